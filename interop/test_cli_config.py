"""`snowpat cli-config` writes a connections.toml entry that the real Snowflake CLI (`snow`) uses:
`snow sql -q "SELECT CURRENT_ROLE()"` through that entry answers the token's restricted role
(protocols.md §4.6; interfaces.md `cli-config`). Runs in a temporary HOME / SNOWFLAKE_HOME.

Under CI=true a missing client is a failure, never a skip (conftest.missing)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from conftest import ROOT
from test_snow_cli import snow, write_private


def _snowpat() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    binary = target / "debug" / "snowpat"
    if not binary.exists():
        subprocess.run(["cargo", "build", "-p", "snowpat"], cwd=ROOT, check=True)
    return binary


def test_snow_runs_through_an_entry_snowpat_wrote(snow_cli, emulator, restricted, tmp_path):
    home = tmp_path / "home"
    config_dir = home / ".snowflake"
    config_dir.mkdir(parents=True)
    # An existing entry and a comment that must survive.
    write_private(config_dir / "connections.toml", '# mine\n[other]\naccount = "X"\n')
    token_file = home / "pat.token"
    write_private(token_file, restricted["token"])
    write_private(tmp_path / "admin.token", emulator.admin_token)

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SNOWFLAKE_") and not k.startswith("SNOWPAT_")
    }
    env.update(
        HOME=str(home),
        SNOWFLAKE_HOME=str(config_dir),
        SNOWPAT_URL=emulator.url,
        SNOWPAT_TOKEN_FILE=str(tmp_path / "admin.token"),
    )
    done = subprocess.run(
        [
            str(_snowpat()),
            "cli-config",
            "--connection",
            "emu",
            "--user",
            restricted["user"],
            "--role",
            restricted["role"],
            "--token-file",
            str(token_file),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert restricted["token"] not in done.stdout + done.stderr

    written = config_dir / "connections.toml"
    text = written.read_text()
    assert text.startswith('# mine\n[other]\naccount = "X"\n'), text
    assert 'authenticator = "PROGRAMMATIC_ACCESS_TOKEN"' in text
    assert restricted["token"] not in text
    assert stat.S_IMODE(written.stat().st_mode) == 0o600

    ran = snow(
        snow_cli, home, "sql", "-q", "SELECT CURRENT_ROLE()", "-c", "emu", "--format", "json"
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout) == [{"CURRENT_ROLE()": restricted["role"]}]
