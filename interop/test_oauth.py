"""Snowflake OAuth against the emulator binary with a standard OAuth client library (Authlib's
requests OAuth2Session): authorization code + PKCE (S256), token exchange with single-use refresh
tokens, a rotation, a refused replay of the spent refresh token that kills the whole grant family,
and the access token used on the SQL API and by snowflake-connector-python
(protocols.md §6.1–§6.5, §1.3).

The authorization endpoint's login page is stood in for by the end user's PAT in the
`Authorization` header (protocols.md §6.1 [E]). Under CI=true a missing library is a failure,
never a skip."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid

import pytest

IN_CI = os.environ.get("CI") == "true"
REDIRECT = "https://app.example/callback"


def _missing(what: str) -> None:
    message = f"{what} is not installed (pip install -r interop/requirements.txt)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def oauth2_session():
    try:
        from authlib.integrations.requests_client import OAuth2Session  # noqa: PLC0415
    except ImportError:
        _missing("Authlib (with requests)")
    # The emulator speaks plain HTTP on loopback (protocols.md §1.1).
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    return OAuth2Session


@pytest.fixture(scope="module")
def requests_module():
    try:
        import requests  # noqa: PLC0415
    except ImportError:
        _missing("requests")
    return requests


@pytest.fixture()
def oauth_app(emulator) -> dict:
    """A CONFIDENTIAL Snowflake OAuth client and an end user with a role and a PAT."""
    suffix = uuid.uuid4().hex[:8].upper()
    app, user, role = f"APP_{suffix}", f"ALICE_{suffix}", f"ANALYST_{suffix}"
    emulator.admin(
        f"CREATE SECURITY INTEGRATION {app} TYPE = OAUTH OAUTH_CLIENT = CUSTOM "
        f"OAUTH_CLIENT_TYPE = 'CONFIDENTIAL' OAUTH_REDIRECT_URI = '{REDIRECT}' ENABLED = TRUE"
    )
    secrets = json.loads(emulator.admin(f"SELECT SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('{app}')")[0][0])
    emulator.admin(f"CREATE ROLE {role}")
    emulator.admin(f"CREATE USER {user} TYPE = PERSON DEFAULT_ROLE = {role}")
    emulator.admin(f"GRANT ROLE {role} TO USER {user}")
    pat = emulator.admin(f"ALTER USER {user} ADD PAT LOGIN DAYS_TO_EXPIRY = 1")[0][1]
    return {
        "client_id": secrets["OAUTH_CLIENT_ID"],
        "client_secret": secrets["OAUTH_CLIENT_SECRET"],
        "user": user,
        "role": role,
        "pat": pat,
    }


def sql_with(emulator, access_token: str, statement: str) -> tuple[int, dict]:
    """One statement over the SQL API with an OAuth bearer token."""
    request = urllib.request.Request(
        f"{emulator.url}/api/v2/statements",
        data=json.dumps({"statement": statement}).encode(),
        headers={
            "Authorization": f"Bearer {access_token}",
            "X-Snowflake-Authorization-Token-Type": "OAUTH",
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


def authorize(requests_module, oauth2_session, emulator, app: dict):
    """Runs the authorization step: Authlib builds the URL (state + PKCE), the end user's PAT
    stands in for the login page, and the 302 Location is the callback Authlib parses."""
    from authlib.common.security import generate_token  # noqa: PLC0415

    session = oauth2_session(
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        scope=f"refresh_token session:role:{app['role']}",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(64)
    url, state = session.create_authorization_url(
        f"{emulator.url}/oauth/authorize", code_verifier=verifier
    )
    answer = requests_module.get(
        url,
        headers={"Authorization": f"Bearer {app['pat']}"},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text
    callback = answer.headers["Location"]
    assert callback.startswith(REDIRECT + "?code=")
    assert f"state={state}" in callback
    return session, callback, verifier


def test_authorization_code_pkce_refresh_rotation_and_replay(
    oauth2_session, requests_module, emulator, oauth_app
):
    from authlib.integrations.base_client.errors import OAuthError  # noqa: PLC0415

    token_url = f"{emulator.url}/oauth/token-request"
    session, callback, verifier = authorize(requests_module, oauth2_session, emulator, oauth_app)
    token = session.fetch_token(
        token_url,
        authorization_response=callback,
        code_verifier=verifier,
        enable_single_use_refresh_tokens="true",
    )
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 600
    assert token["username"] == oauth_app["user"]
    assert token["scope"] == f"refresh_token session:role:{oauth_app['role']}"
    first_access, first_refresh = token["access_token"], token["refresh_token"]

    status, body = sql_with(emulator, first_access, "SELECT CURRENT_USER(), CURRENT_ROLE()")
    assert status == 200, body
    assert body["data"] == [[oauth_app["user"], oauth_app["role"]]]

    # Rotation: a new refresh token and access token; the old access token is dead.
    rotated = session.refresh_token(token_url, refresh_token=first_refresh)
    assert rotated["refresh_token"] != first_refresh
    status, body = sql_with(emulator, rotated["access_token"], "SELECT CURRENT_ROLE()")
    assert status == 200, body
    assert body["data"] == [[oauth_app["role"]]]
    status, body = sql_with(emulator, first_access, "SELECT 1")
    assert (status, body.get("code")) == (401, "390303"), body

    # Replaying the spent refresh token is refused and kills the family.
    with pytest.raises(OAuthError) as caught:
        session.refresh_token(token_url, refresh_token=first_refresh)
    assert caught.value.error == "invalid_grant"
    status, body = sql_with(emulator, rotated["access_token"], "SELECT 1")
    assert (status, body.get("code")) == (401, "390303"), body
    with pytest.raises(OAuthError) as caught:
        session.refresh_token(token_url, refresh_token=rotated["refresh_token"])
    assert caught.value.error == "invalid_grant"

    # The authorization code was single-use (a second exchange also revokes what the first
    # one issued, RFC 6749 §4.1.2; here the family is already dead).
    with pytest.raises(OAuthError) as caught:
        session.fetch_token(token_url, authorization_response=callback, code_verifier=verifier)
    assert caught.value.error == "invalid_grant"


def test_wrong_code_verifier_is_invalid_grant(
    oauth2_session, requests_module, emulator, oauth_app
):
    from authlib.common.security import generate_token  # noqa: PLC0415
    from authlib.integrations.base_client.errors import OAuthError  # noqa: PLC0415

    session, callback, _ = authorize(requests_module, oauth2_session, emulator, oauth_app)
    with pytest.raises(OAuthError) as caught:
        session.fetch_token(
            f"{emulator.url}/oauth/token-request",
            authorization_response=callback,
            code_verifier=generate_token(64),
        )
    assert caught.value.error == "invalid_grant"


def test_access_token_logs_in_with_the_python_connector(
    oauth2_session, requests_module, emulator, oauth_app
):
    try:
        import snowflake.connector  # noqa: PLC0415
    except ImportError:
        _missing("snowflake-connector-python")
    session, callback, verifier = authorize(requests_module, oauth2_session, emulator, oauth_app)
    token = session.fetch_token(
        f"{emulator.url}/oauth/token-request",
        authorization_response=callback,
        code_verifier=verifier,
    )
    with snowflake.connector.connect(
        account="EMULATOR",
        host="127.0.0.1",
        port=emulator.port,
        protocol="http",
        user=oauth_app["user"],
        authenticator="oauth",
        token=token["access_token"],
        login_timeout=30,
        network_timeout=30,
    ) as conn:
        row = conn.cursor().execute("SELECT CURRENT_USER(), CURRENT_ROLE()").fetchone()
    assert row == (oauth_app["user"], oauth_app["role"])
