"""Local stand-ins for everything the monitor talks to: the site, SMTP, webhooks, Slack."""
