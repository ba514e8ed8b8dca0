"""Sending one message to one target through apprise, bounded in time, never raising.

E-mail (``mailto://``, ``mailtos://``) is the exception: apprise's e-mail plugin derives the
text/plain part from the HTML itself, so :func:`send_mail` builds the MIME message from both of
our renderers and hands it to apprise's SMTP connection (see its docstring).
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

import apprise
from apprise import AppriseResultStatus, NotifyFormat, NotifyType
from apprise.exception import AppriseImproperlyConfigured
from apprise.plugins.email import NotifyEmail
from apprise.plugins.email.smtp import AppriseSMTPController

from monitor.alerts import AlertKind
from monitor.alerts.render import Format, Message, one_line
from monitor.alerts.targets import Target, capture_apprise, install_redaction, protect, redact

MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    detail: str  # masked: safe to store and print


def choose_format(plugin: Any, url: str) -> Format:
    """The format a target is sent: its URL's ``format=``, else what its service reads best.

    Generic webhooks (json, xml, form: they accept every format) get plain text; services that
    render markdown (Slack, Discord, Telegram, …) get markdown; e-mail services get HTML (with our
    own text alternative for ``mailto(s)://``, see :func:`send_mail`); anything else gets text.
    """
    for pair in url.partition("?")[2].split("&"):
        name, _, value = pair.partition("=")
        if name.lower() == "format" and value.lower() in ("html", "markdown", "text"):
            return value.lower()  # type: ignore[return-value]
    formats = _formats(plugin)
    if {NotifyFormat.TEXT, NotifyFormat.HTML, NotifyFormat.MARKDOWN} <= set(formats):
        return "text"
    if NotifyFormat.MARKDOWN in formats:
        return "markdown"
    if NotifyFormat.HTML in formats:
        return "html"
    return "text"


def _formats(plugin: Any) -> tuple[NotifyFormat, ...]:
    declared = plugin.notify_format
    values = declared if isinstance(declared, tuple | list) else (declared,)
    return tuple(NotifyFormat(v) for v in values)


def _plain_subject(plugin: Any, fmt: Format) -> bool:
    """E-mail services put the title in a Subject header: plain text there, not HTML."""
    formats = _formats(plugin)
    return (
        fmt == "html"
        and formats[:1] == (NotifyFormat.HTML,)
        and (NotifyFormat.MARKDOWN not in formats)
    )


def _notify_type(kind: str) -> NotifyType:
    if kind == AlertKind.OPS_FAILURE:
        return NotifyType.FAILURE
    if kind == AlertKind.OPS_RECOVERED:
        return NotifyType.SUCCESS
    return NotifyType.INFO


def send(
    target: Target,
    message: Callable[[Format], Message],
    keys: Sequence[str],
    kind: str,
    timeout: float,
) -> SendResult:
    """Send one message to one target; never raises, never returns a secret.

    Every network wait (connect, each read, the SMTP dialogue) is limited to ``timeout``
    seconds through the plugin's socket timeouts, and apprise stops waiting for the whole call
    after ``2 × timeout``.
    """
    install_redaction()
    protect(target.url)
    try:
        plugin = apprise.Apprise.instantiate(target.url, asset=_asset())
        if plugin is None:
            return SendResult(False, f"apprise cannot load {target.masked}")
        fmt = choose_format(plugin, target.url)
        if isinstance(plugin, NotifyEmail) and fmt == "html":
            return send_mail(plugin, message("text"), message("html"), keys, timeout)
        rendered = message(fmt)
        title = message("text").title if _plain_subject(plugin, fmt) else rendered.title
        _limit_waits(plugin, timeout)
        _tag_idempotency(plugin, keys)
        notifier = apprise.Apprise(asset=_asset())
        notifier.add(plugin)
        result = notifier.notify(
            body=rendered.body,
            title=title,
            body_format=NotifyFormat(fmt),
            notify_type=_notify_type(kind),
            timeout=timeout * 2,
        )
    except Exception as exc:  # a plugin bug must not stop the run (or leak a URL in a traceback)
        return SendResult(False, f"{type(exc).__name__}: {redact(str(exc))}")
    return _outcome(result, timeout)


def _limit_waits(plugin: Any, timeout: float) -> None:
    # URLBase reads both per request (requests' (connect, read) tuple); the SMTP plugins use
    # socket_connect_timeout as the socket timeout of the whole SMTP dialogue.
    plugin.socket_connect_timeout = timeout
    plugin.socket_read_timeout = timeout


def _tag_idempotency(plugin: Any, keys: Sequence[str]) -> None:
    value = ",".join(keys)
    headers = getattr(plugin, "headers", None)
    if isinstance(headers, dict):  # json/xml/form webhooks and e-mail take extra headers
        headers["X-Idempotency-Key"] = value
    extras = getattr(plugin, "payload_extras", None)
    if isinstance(extras, dict):  # json/xml/form: a field of the posted document
        extras["idempotency_key"] = value


def _outcome(result: Any, timeout: float) -> SendResult:
    """Success only when every attempt apprise made ended in SUCCESS (``optional=`` ignored)."""
    services = list(result)
    ok = bool(services) and all(
        r.attempts and r.attempts[-1].status == AppriseResultStatus.SUCCESS for r in services
    )
    if ok:
        return SendResult(True, "delivered")
    problems = [
        one_line(redact(entry.message))
        for entry in result.logs()
        if str(entry.level).upper() in ("WARNING", "ERROR", "CRITICAL")
    ]
    if not problems and result.status == AppriseResultStatus.TIMEOUT:
        problems = [f"no answer within {timeout * 2:g} s"]
    return SendResult(False, "; ".join(dict.fromkeys(problems))[:MAX_ERROR] or "not delivered")


def _asset() -> apprise.AppriseAsset:
    return apprise.AppriseAsset(app_id="cphpost-monitor", app_desc="cphpost-monitor alerts")


# E-mail ----------------------------------------------------------------------------------------

_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
    '<body style="font-family:sans-serif;line-height:1.4">\n{body}\n</body></html>\n'
)


def message_id(keys: Sequence[str], domain: str) -> str:
    """The same ``Message-ID`` for every attempt of one alert (or digest) to one target."""
    local = (
        keys[0]
        if len(keys) == 1
        else "digest-" + hashlib.sha256(",".join(keys).encode()).hexdigest()[:24]
    )
    return f"<{local}@{domain or 'cphpost-monitor.invalid'}>"


def build_mail(
    plugin: NotifyEmail, text: Message, html: Message, keys: Sequence[str]
) -> list[tuple[list[str], EmailMessage]]:
    """(envelope recipients, MIME message) per recipient: multipart/alternative, our own parts.

    Apprise's ``prepare_emails`` still builds the envelope and headers (From with its name, To,
    Cc, Reply-To, Date, the URL's ``+header`` options), from the same URL settings as apprise
    would; only the body is replaced.
    """
    value = ",".join(keys)
    headers = {"X-Application": plugin.app_id, **plugin.headers, "X-Idempotency-Key": value}
    out = []
    for prepared in NotifyEmail.prepare_emails(
        subject=text.title,
        body=text.body,
        notify_format=NotifyFormat.TEXT,
        from_addr=plugin.from_addr,
        to=plugin.targets,
        cc=plugin.cc,
        bcc=plugin.bcc,
        reply_to=plugin.reply_to,
        smtp_host=plugin.smtp_host,
        headers=headers,
        names=plugin.names,
        tzinfo=plugin.tzinfo,
    ):
        mail = message_from_string(prepared.body, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        mail.set_content(text.body + "\n", cte="quoted-printable")
        page = _PAGE.format(title=html.title, body=html.body)
        mail.add_alternative(page, subtype="html", cte="quoted-printable")
        del mail["Message-ID"]
        mail["Message-ID"] = message_id(keys, str(plugin.from_addr[1]).rpartition("@")[2])
        out.append((list(prepared.to_addrs), mail))
    return out


def send_mail(
    plugin: Any, text: Message, html: Message, keys: Sequence[str], timeout: float
) -> SendResult:
    """Send an alert e-mail whose text/plain part is our text renderer's, not a conversion.

    Why not ``notify()``: ``NotifyEmail.send`` calls ``NotifyEmail.prepare_emails`` by class
    name, and that converts the HTML body to the text part with no way to supply one (a
    subclass cannot override it; patching apprise's module would be process-wide). So the
    message is built from both renderers (:func:`build_mail`) and sent through apprise's own
    ``AppriseSMTPController`` with the plugin's parsed URL settings: host, port, TLS mode, login,
    certificate check. Not supported on this path: PGP options of the URL. ``plugin`` is a
    ``NotifyEmail`` (typed ``Any``: apprise's attributes are loosely typed).
    """
    if not plugin.targets:
        return SendResult(False, "the mailto URL names no recipient")
    try:
        messages = build_mail(plugin, text, html, keys)
        with (
            capture_apprise(logging.DEBUG) as logged,
            AppriseSMTPController(
                host=plugin.smtp_host,
                port=plugin.port,
                secure_mode=plugin.secure_mode,
                user=plugin.user,
                password=plugin.password,
                verify_certificate=plugin.verify_certificate,
                socket_connect_timeout=timeout,  # type: ignore[arg-type]  # smtplib takes a float
            ) as smtp,
        ):
            failed = [
                rcpt
                for rcpt, mail in messages
                if not smtp.sendmail(plugin.from_addr[1], rcpt, mail.as_string())
            ]
    except (OSError, smtplib.SMTPException, RuntimeError, AppriseImproperlyConfigured) as exc:
        detail = f"SMTP {plugin.smtp_host}:{plugin.port}: {type(exc).__name__}: {exc}"
        return SendResult(False, one_line(redact(detail))[:MAX_ERROR])
    if failed:
        problems = [m for m in logged if "Socket Exception" in m or "was refused" in m]
        why = "; ".join(dict.fromkeys(problems)) or "the server refused the message"
        return SendResult(False, one_line(redact(why))[:MAX_ERROR])
    return SendResult(True, "delivered")
