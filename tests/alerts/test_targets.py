"""Targets: parsing CPHMON_NOTIFY_URLS and apprise config files, routing, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.alerts.targets import (
    LOG_TARGET,
    Target,
    TargetError,
    load_targets,
    mask_url,
    redact,
    route,
    target_key,
)
from tests.alerts.conftest import SettingsFactory

JSON_URL = "json://hookuser:Pa55w0rdSecret@127.0.0.1:8080/hook"
SLACK_URL = "slack://T0SECRET1/B0SECRET2/XsecretSlackToken0123456789"
TGRAM_URL = "tgram://123456789:AAsecretBotToken0123/987654"


def target(name: str, *tags: str) -> Target:
    return Target(key=name, url=f"json://127.0.0.1/{name}", tags=frozenset(tags), masked=name)


def keys(targets: list[Target]) -> list[str]:
    return [t.key for t in targets]


UNTAGGED = target("untagged")
ASYLUM = target("asylum-desk", "asylum")
LABOUR = target("labour-desk", "labour", "citizenship")
EVERYTHING = target("everything", "all")
OPS = target("ops-pager", "ops")


# Routing ---------------------------------------------------------------------------------------


def test_an_untagged_target_receives_alerts_on_every_topic() -> None:
    assert keys(route([UNTAGGED], "new", ["asylum"], "ops")) == ["untagged"]
    assert keys(route([UNTAGGED], "changed", [], "ops")) == ["untagged"]


def test_a_topic_tagged_target_receives_only_alerts_on_its_topics() -> None:
    targets = [ASYLUM, LABOUR]
    assert keys(route(targets, "new", ["asylum", "deportation"], "ops")) == ["asylum-desk"]
    assert keys(route(targets, "new", ["citizenship"], "ops")) == ["labour-desk"]
    assert keys(route(targets, "new", ["integration"], "ops")) == []


def test_topic_tags_match_case_insensitively() -> None:
    assert keys(route([ASYLUM], "new", ["Asylum"], "ops")) == ["asylum-desk"]


def test_the_all_tag_receives_every_alert() -> None:
    assert keys(route([ASYLUM, EVERYTHING], "new", ["labour"], "ops")) == ["everything"]


def test_ops_alerts_go_only_to_targets_carrying_the_ops_tag() -> None:
    targets = [UNTAGGED, ASYLUM, EVERYTHING, OPS]
    assert keys(route(targets, "ops_failure", [], "ops")) == ["ops-pager"]
    assert keys(route(targets, "ops_recovered", [], "ops")) == ["ops-pager"]


def test_ops_alerts_fall_back_to_untagged_and_all_targets_without_an_ops_target() -> None:
    targets = [UNTAGGED, ASYLUM, EVERYTHING]
    assert keys(route(targets, "ops_failure", [], "ops")) == ["untagged", "everything"]


def test_the_ops_tag_is_the_configured_one() -> None:
    pager = target("pager", "oncall")
    assert keys(route([UNTAGGED, pager], "ops_failure", [], "oncall")) == ["pager"]


def test_ops_targets_do_not_receive_article_alerts() -> None:
    assert keys(route([OPS, UNTAGGED], "new", ["asylum"], "ops")) == ["untagged"]


def test_digest_tags_do_not_restrict_routing() -> None:
    batched = target("batched", "digest-1h")
    assert keys(route([batched], "new", ["labour"], "ops")) == ["batched"]


# Parsing CPHMON_NOTIFY_URLS --------------------------------------------------------------------


def test_notify_urls_are_split_on_whitespace_with_optional_tags(
    make_settings: SettingsFactory,
) -> None:
    s = make_settings(notify_urls=f"asylum,Ops={JSON_URL}\n  {SLACK_URL}")
    first, second = load_targets(s)
    assert (first.url, first.tags) == (JSON_URL, frozenset({"asylum", "ops"}))
    assert (second.url, second.tags) == (SLACK_URL, frozenset())


def test_target_key_is_a_short_hash_of_the_url(make_settings: SettingsFactory) -> None:
    (only,) = load_targets(make_settings(notify_urls=JSON_URL))
    assert only.key == target_key(JSON_URL)
    assert len(only.key) == 16 and "Pa55w0rd" not in only.key


def test_a_digest_query_option_is_stripped_before_apprise_sees_the_url(
    make_settings: SettingsFactory,
) -> None:
    url = "json://127.0.0.1:8080/hook?-x=1&digest=1h&+X-Head=2"
    (only,) = load_targets(make_settings(notify_urls=url))
    assert only.url == "json://127.0.0.1:8080/hook?-x=1&+X-Head=2"
    assert only.digest == 3600.0


def test_a_digest_option_after_a_slack_channel_is_stripped(make_settings: SettingsFactory) -> None:
    (only,) = load_targets(make_settings(notify_urls=f"all={SLACK_URL}/#migration?digest=1h"))
    assert (only.url, only.digest) == (f"{SLACK_URL}/#migration", 3600.0)


def test_targets_without_a_digest_option_take_the_digest_setting(
    make_settings: SettingsFactory,
) -> None:
    s = make_settings(notify_urls=f"{JSON_URL} {SLACK_URL}?digest=0", digest="30m")
    assert [t.digest for t in load_targets(s)] == [1800.0, 0.0]


def test_a_bad_digest_value_is_a_target_error(make_settings: SettingsFactory) -> None:
    with pytest.raises(TargetError, match="digest 'soon' is not a duration"):
        load_targets(make_settings(notify_urls="json://127.0.0.1/hook?digest=soon"))


def test_an_invalid_url_is_a_target_error_without_the_secret(
    make_settings: SettingsFactory,
) -> None:
    bad = "slack://T0SECRET1/onlyone"  # Slack needs three tokens
    with pytest.raises(TargetError) as caught:
        load_targets(make_settings(notify_urls=f"{JSON_URL} {bad}"))
    message = str(caught.value)
    assert message.startswith("CPHMON_NOTIFY_URLS entry 2 (slack://***) is not a usable")
    assert "T0SECRET1" not in message and "onlyone" not in message


def test_an_unknown_service_is_a_target_error_without_the_secret(
    make_settings: SettingsFactory,
) -> None:
    with pytest.raises(TargetError) as caught:
        load_targets(make_settings(notify_urls="nosuchservice://user:Hunter2Secret@example.org"))
    assert "Hunter2Secret" not in str(caught.value)
    assert "entry 1" in str(caught.value)


def test_the_same_url_twice_is_one_target_with_the_tags_merged(
    make_settings: SettingsFactory,
) -> None:
    s = make_settings(notify_urls=f"asylum={JSON_URL} work_permits={JSON_URL}")
    (only,) = load_targets(s)
    assert only.tags == frozenset({"asylum", "work_permits"})


def test_nothing_configured_is_no_targets(make_settings: SettingsFactory) -> None:
    assert load_targets(make_settings()) == []


# Apprise config files --------------------------------------------------------------------------


def test_a_text_config_file_gives_urls_and_tags(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    config = tmp_path / "apprise.txt"
    config.write_text(f"# desks\nasylum,deportation={JSON_URL}\nops={SLACK_URL}\n")
    first, second = load_targets(make_settings(apprise_config=config))
    assert first.tags == frozenset({"asylum", "deportation"})
    assert first.url.startswith("json://hookuser:Pa55w0rdSecret@127.0.0.1:8080/hook")
    assert second.tags == frozenset({"ops"}) and second.url.startswith("slack://")


def test_a_yaml_config_file_gives_urls_tags_and_a_digest_tag(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    config = tmp_path / "apprise.yml"
    config.write_text(
        f"version: 1\nurls:\n  - {JSON_URL}:\n      - tag: asylum, digest-2h\n  - {SLACK_URL}\n"
    )
    first, second = load_targets(make_settings(apprise_config=config))
    assert first.tags == frozenset({"asylum", "digest-2h"}) and first.digest == 7200.0
    assert second.tags == frozenset() and second.digest == 0.0


def test_a_config_file_with_a_bad_entry_names_the_line_not_the_secret(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    config = tmp_path / "apprise.txt"
    config.write_text(f"{JSON_URL}\nslack://T0SECRET1/onlyone\n")
    with pytest.raises(TargetError) as caught:
        load_targets(make_settings(apprise_config=config))
    assert str(caught.value) == (
        f"apprise config file {config}: the entry on line 2 is not a usable apprise URL"
    )


def test_a_missing_config_file_is_a_target_error(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    with pytest.raises(TargetError, match="does not exist"):
        load_targets(make_settings(apprise_config=tmp_path / "missing.yml"))


def test_env_and_config_file_targets_are_combined(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    config = tmp_path / "apprise.txt"
    config.write_text(f"ops={SLACK_URL}\n")
    s = make_settings(notify_urls=JSON_URL, apprise_config=config)
    assert [t.masked for t in load_targets(s)] == ["json://***@127.0.0.1:8080/***", "slack://***"]


# Masking ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (JSON_URL, "json://***@127.0.0.1:8080/***"),
        (SLACK_URL, "slack://***"),
        (TGRAM_URL, "tgram://***"),
        (
            "mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org",
            "mailto://127.0.0.1:2525?***",
        ),
        ("ntfy://SecretTopicName", "ntfy://***"),
    ],
)
def test_masked_urls_show_no_token(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_a_target_repr_shows_no_secret(make_settings: SettingsFactory) -> None:
    (only,) = load_targets(make_settings(notify_urls=SLACK_URL))
    assert "Secret" not in repr(only) and "SECRET" not in repr(only)
    assert str(only) == "slack://***"


def test_loaded_secrets_are_redacted_from_any_text(make_settings: SettingsFactory) -> None:
    load_targets(make_settings(notify_urls=f"{JSON_URL} {SLACK_URL} {TGRAM_URL}"))
    text = (
        "POST https://hooks.slack.com/services/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789 "
        "auth Pa55w0rdSecret bot 123456789:AAsecretBotToken0123"
    )
    cleaned = redact(text)
    for secret in ("XsecretSlackToken", "Pa55w0rdSecret", "AAsecretBotToken", "T0SECRET1"):
        assert secret not in cleaned


def test_the_log_target_is_named_log() -> None:
    assert (LOG_TARGET.key, LOG_TARGET.url, LOG_TARGET.digest) == ("log", "", 0.0)


def test_a_tag_that_names_no_topic_is_refused_with_the_tag_named(
    make_settings: SettingsFactory,
) -> None:
    s = make_settings(notify_urls=f"asylm={JSON_URL}")
    with pytest.raises(TargetError, match="tag 'asylm' is not a topic"):
        load_targets(s)
