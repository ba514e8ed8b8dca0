"""deploy/cphpost-monitor.service: a hardened simple service that upgrades the schema first.

The directives are read with a small parser that keeps repeated keys; where systemd-analyze is
installed, `verify` (the unit as systemd loads it) and `security --offline` (the hardening
score) run too, and skip with the reason otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.settings import Settings
from tests.deploy.deployfiles import ENV_PREFIX, UNIT, parse_unit

BINARY = "/opt/cphpost-monitor/bin/cphpost-monitor"
Unit = dict[str, dict[str, list[str]]]


@pytest.fixture(scope="module")
def unit() -> Unit:
    return parse_unit(UNIT)


def one(unit: Unit, section: str, key: str) -> str:
    values = unit[section].get(key)
    assert values is not None, f"[{section}] has no {key}="
    assert len(values) == 1, f"[{section}] {key}= appears {len(values)} times"
    return values[0]


def test_sections(unit: Unit) -> None:
    assert list(unit) == ["Unit", "Service", "Install"]
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_starts_after_the_network_and_a_local_postgresql(unit: Unit) -> None:
    assert one(unit, "Unit", "Wants") == "network-online.target"
    assert one(unit, "Unit", "After").split() == ["network-online.target", "postgresql.service"]
    assert one(unit, "Unit", "Documentation").endswith("/docs/operations.md")


def test_upgrades_the_schema_then_runs_the_daemon_in_the_foreground(unit: Unit) -> None:
    assert one(unit, "Service", "Type") == "simple"
    assert one(unit, "Service", "ExecStartPre") == f"{BINARY} db upgrade"
    assert one(unit, "Service", "ExecStart") == f"{BINARY} run"


def test_restart_and_stop_policy(unit: Unit) -> None:
    service = {key: one(unit, "Service", key) for key in unit["Service"] if key in POLICY}
    assert service == POLICY
    # a broken configuration does not restart forever
    assert one(unit, "Unit", "StartLimitIntervalSec") == "10min"
    assert one(unit, "Unit", "StartLimitBurst") == "5"


POLICY = {
    "Restart": "on-failure",
    "RestartSec": "10s",
    "KillSignal": "SIGTERM",
    "TimeoutStopSec": "20",  # the daemon exits within 10 s of SIGTERM
    "TimeoutStartSec": "5min",  # room for a long migration in ExecStartPre
}


def test_runs_as_its_own_user_with_state_in_var_lib(unit: Unit) -> None:
    assert one(unit, "Service", "User") == "cphpost-monitor"
    assert one(unit, "Service", "Group") == "cphpost-monitor"
    assert one(unit, "Service", "StateDirectory") == "cphpost-monitor"
    assert one(unit, "Service", "StateDirectoryMode") == "0750"
    assert one(unit, "Service", "WorkingDirectory") == "/var/lib/cphpost-monitor"
    assert one(unit, "Service", "UMask") == "0027"


def test_settings_come_from_environment_config_file_and_optional_env_file(unit: Unit) -> None:
    assert unit["Service"]["Environment"] == [
        "CPHMON_DATA_DIR=/var/lib/cphpost-monitor",
        "CPHMON_CONFIG=/etc/cphpost-monitor/config.toml",
    ]
    # "-": the service starts without the file
    assert one(unit, "Service", "EnvironmentFile") == "-/etc/cphpost-monitor/env"
    environment = dict(item.split("=", 1) for item in unit["Service"]["Environment"])
    assert Settings(data_dir=environment.pop("CPHMON_DATA_DIR")).data_dir == Path(
        "/var/lib/cphpost-monitor"
    )
    assert environment == {f"{ENV_PREFIX}CONFIG": "/etc/cphpost-monitor/config.toml"}


HARDENING = {
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "DevicePolicy": "closed",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "ProcSubset": "pid",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "RemoveIPC": "yes",
    "MemoryDenyWriteExecute": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
    "SystemCallErrorNumber": "EPERM",
}


@pytest.mark.parametrize(("key", "value"), HARDENING.items())
def test_hardening(unit: Unit, key: str, value: str) -> None:
    assert one(unit, "Service", key) == value


def test_system_calls_are_limited_to_what_a_service_needs(unit: Unit) -> None:
    assert unit["Service"]["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]


def test_nothing_but_the_state_directory_is_writable_and_the_network_stays(unit: Unit) -> None:
    # ProtectSystem=strict + StateDirectory=: no other writable path is opened up;
    # no PrivateNetwork: the daemon must reach the site, mail servers, webhooks, PostgreSQL
    assert not {"ReadWritePaths", "BindPaths", "PrivateNetwork", "IPAddressDeny"} & set(
        unit["Service"]
    )


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd)"
)


@pytest.fixture
def installed_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at an executable that exists here (verify checks it)."""
    binary = tmp_path / "cphpost-monitor"
    binary.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    binary.chmod(0o755)
    path = tmp_path / "cphpost-monitor.service"
    path.write_text(UNIT.read_text(encoding="utf-8").replace(BINARY, str(binary)), encoding="utf-8")
    return path


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_LOG_COLOR": "0"},
    )


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_unit(installed_unit: Path) -> None:
    result = analyze("verify", "--man=no", str(installed_unit))
    problems = [line for line in result.stderr.splitlines() if "cphpost-monitor" in line]
    assert result.returncode == 0, result.stderr
    assert problems == []  # unknown keys and bad values are only warnings: none allowed


@needs_systemd_analyze
def test_systemd_analyze_rates_the_sandbox_ok(installed_unit: Path) -> None:
    # exposure 0.0 (perfect) .. 10.0 (unsafe); 2.0 and below is what systemd calls OK or better
    result = analyze("security", "--offline=yes", "--threshold=20", str(installed_unit))
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "Overall exposure level for cphpost-monitor.service" in result.stdout
