"""Fixtures for the interoperability tests: the real `snowpat-emulator` binary on port 0 with
admin token, admin key and control token files, and a small SQL API helper for setting up
accounts (protocols.md §2, §4.6).

Under CI=true a missing client is a failure, never a skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI") == "true"


def missing(what: str) -> None:
    """A client that is not installed: a failure under CI, a skip elsewhere."""
    message = f"{what} is not installed (pip install -r interop/requirements.txt)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _binary() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    binary = target / "debug" / "snowpat-emulator"
    if not binary.exists():
        subprocess.run(
            ["cargo", "build", "-p", "snowpat-emulator"], cwd=ROOT, check=True
        )
    return binary


class Emulator:
    """One running emulator process."""

    def __init__(self, directory: Path, extra: list[str] | None = None) -> None:
        self.dir = directory
        self.admin_token_file = directory / "admin.token"
        self.admin_key_file = directory / "admin.pem"
        self.control_token_file = directory / "control.token"
        args = [
            str(_binary()),
            "--listen",
            "127.0.0.1:0",
            "--admin-token-file",
            str(self.admin_token_file),
            "--admin-key-file",
            str(self.admin_key_file),
            "--control-token-file",
            str(self.control_token_file),
            *(extra or []),
        ]
        self.stderr = open(directory / "emulator.stderr", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("listening on "):
                break
            if self.process.poll() is not None:
                break
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"emulator did not start: {line!r}")
        self.url = line.split("listening on ", 1)[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])

    @property
    def admin_token(self) -> str:
        return self.admin_token_file.read_text().strip()

    def sql(self, statement: str, token: str | None = None) -> tuple[int, dict]:
        """One statement over the SQL API (bearer PAT); answers (status, body)."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/statements?requestId={uuid.uuid4()}",
            data=json.dumps({"statement": statement}).encode(),
            headers={
                "Authorization": f"Bearer {token or self.admin_token}",
                "X-Snowflake-Authorization-Token-Type": "PROGRAMMATIC_ACCESS_TOKEN",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def admin(self, statement: str) -> list[list]:
        status, body = self.sql(statement)
        assert status == 200, f"{statement}: {status} {body}"
        return body["data"]

    def log(self, since: int = 0) -> list[dict]:
        """The request log (control API), lines with seq > since."""
        request = urllib.request.Request(
            f"{self.url}/emulator/v1/log?since={since}",
            headers={"Authorization": f"Bearer {self.control_token_file.read_text().strip()}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return [json.loads(line) for line in response.read().decode().splitlines() if line]

    def log_mark(self) -> int:
        lines = self.log()
        return lines[-1]["seq"] if lines else 0

    def login_codes(self, since: int) -> list[str | None]:
        """The codes the emulator answered to driver logins after `since`."""
        return [
            line.get("code")
            for line in self.log(since)
            if line["endpoint"] == "POST /session/v1/login-request"
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory):
    """One emulator for the whole run (tests create their own users and roles)."""
    instance = Emulator(tmp_path_factory.mktemp("emulator"))
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture()
def restricted(emulator: Emulator) -> dict:
    """A fresh user with a role and a PAT restricted to that role."""
    suffix = uuid.uuid4().hex[:8].upper()
    user, role, other = f"INTEROP_{suffix}", f"READER_{suffix}", f"OTHER_{suffix}"
    emulator.admin(f"CREATE ROLE {role}")
    emulator.admin(f"CREATE ROLE {other}")
    emulator.admin(f"CREATE USER {user}")
    emulator.admin(f"GRANT ROLE {role} TO USER {user}")
    emulator.admin(f"GRANT ROLE {other} TO USER {user}")
    rows = emulator.admin(f"ALTER USER {user} ADD PAT P1 ROLE_RESTRICTION = '{role}'")
    return {"user": user, "role": role, "other": other, "token": rows[0][1]}


@pytest.fixture(scope="session")
def connector():
    try:
        import snowflake.connector  # noqa: PLC0415
    except ImportError:
        missing("snowflake-connector-python")
    return snowflake.connector


@pytest.fixture(scope="session")
def snow_cli() -> str:
    path = shutil.which("snow")
    if path is None:
        missing("snowflake-cli (`snow`)")
    return path
