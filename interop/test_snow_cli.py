"""The Snowflake CLI (`snow`) against the emulator through a connections.toml entry
(protocols.md §4.6): `authenticator = "PROGRAMMATIC_ACCESS_TOKEN"` with a token file or an inline
token, in a temporary HOME / SNOWFLAKE_HOME so no real configuration is read."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """The CLI refuses configuration and token files readable by others: create them 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def snow(snow_cli: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SNOWFLAKE_") and not k.startswith("SNOWSQL_")
    }
    env.update(
        HOME=str(home),
        SNOWFLAKE_HOME=str(home / ".snowflake"),
        NO_COLOR="1",
        COLUMNS="200",
    )
    return subprocess.run(
        [snow_cli, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def connection_entry(emulator, user: str, credential: str) -> str:
    return f"""[emu]
account = "EMULATOR"
user = "{user}"
host = "127.0.0.1"
port = {emulator.port}
protocol = "http"
authenticator = "PROGRAMMATIC_ACCESS_TOKEN"
{credential}
"""


def test_snow_sql_with_a_token_file_uses_the_restricted_role(
    snow_cli, emulator, restricted, tmp_path
):
    home = tmp_path / "home"
    token_file = home / "pat.token"
    write_private(token_file, restricted["token"])
    write_private(
        home / ".snowflake" / "connections.toml",
        connection_entry(emulator, restricted["user"], f'token_file_path = "{token_file}"'),
    )
    done = snow(
        snow_cli, home, "sql", "-q", "SELECT CURRENT_ROLE()", "-c", "emu", "--format", "json"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(done.stdout)
    assert rows == [{"CURRENT_ROLE()": restricted["role"]}]


def test_snow_sql_with_an_inline_token_runs_a_pat_statement(snow_cli, emulator, restricted, tmp_path):
    home = tmp_path / "home"
    write_private(
        home / ".snowflake" / "connections.toml",
        connection_entry(emulator, restricted["user"], f'token = "{restricted["token"]}"'),
    )
    done = snow(
        snow_cli,
        home,
        "sql",
        "-q",
        f"SHOW USER PATS FOR USER {restricted['user']}",
        "-c",
        "emu",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(done.stdout)
    assert [(r["name"], r["role_restriction"], r["status"]) for r in rows] == [
        ("P1", restricted["role"], "ACTIVE")
    ]


def test_snow_sql_with_a_revoked_token_fails(snow_cli, emulator, restricted, tmp_path):
    emulator.admin(f"ALTER USER {restricted['user']} REMOVE PAT P1")
    home = tmp_path / "home"
    write_private(
        home / ".snowflake" / "connections.toml",
        connection_entry(emulator, restricted["user"], f'token = "{restricted["token"]}"'),
    )
    mark = emulator.log_mark()
    done = snow(snow_cli, home, "sql", "-q", "SELECT CURRENT_ROLE()", "-c", "emu")
    assert done.returncode != 0
    assert "Programmatic access token is invalid." in done.stdout + done.stderr
    # The CLI may try the login more than once; every attempt is refused the same way.
    codes = emulator.login_codes(mark)
    assert codes and set(codes) == {"394400"}
