"""snowflake-connector-python against the emulator's driver protocol (protocols.md §4;
snowflake-behaviour.md §6.6, §10 rows 16, 89, 95, 96, 100).

The connector reports every login failure as its own errno 250001 (sqlstate 08001) carrying the
server's message (snowflake-behaviour.md §10 note 12), so the Snowflake code the emulator
answered is read from the emulator's request log as well."""

from __future__ import annotations

import pytest


def connect(connector, emulator, **kwargs):
    return connector.connect(
        account="EMULATOR",
        host="127.0.0.1",
        port=emulator.port,
        protocol="http",
        login_timeout=30,
        network_timeout=30,
        **kwargs,
    )


def test_pat_as_password_authenticates_as_the_pat(connector, emulator):
    with connect(connector, emulator, user="ADMIN", password=emulator.admin_token) as conn:
        row = conn.cursor().execute("SELECT CURRENT_USER(), CURRENT_ROLE()").fetchone()
    assert row == ("ADMIN", "ACCOUNTADMIN")


def test_pat_authenticator_gets_the_restricted_role(connector, emulator, restricted):
    with connect(
        connector,
        emulator,
        user=restricted["user"],
        authenticator="PROGRAMMATIC_ACCESS_TOKEN",
        token=restricted["token"],
    ) as conn:
        cur = conn.cursor()
        row = cur.execute("SELECT CURRENT_USER(), CURRENT_ROLE()").fetchone()
        assert row == (restricted["user"], restricted["role"])
        assert conn.role == restricted["role"]
        names = [r[0] for r in cur.execute(f"SHOW USER PATS FOR USER {restricted['user']}")]
        assert names == ["P1"]
        # §6.7 S7: a restricted session cannot switch to another role.
        with pytest.raises(connector.errors.ProgrammingError) as caught:
            cur.execute(f"USE ROLE {restricted['other']}")
        assert caught.value.errno == 99920


def test_admin_adds_and_lists_a_pat_over_the_driver(connector, emulator, restricted):
    with connect(connector, emulator, user="ADMIN", password=emulator.admin_token) as conn:
        cur = conn.cursor()
        added = cur.execute(
            f"ALTER USER {restricted['user']} ADD PAT P2 ROLE_RESTRICTION = '{restricted['role']}'"
        ).fetchone()
        assert added[0] == "P2" and len(added[1]) > 20
        rows = cur.execute(f"SHOW USER PATS FOR USER {restricted['user']}").fetchall()
        cols = [d.name for d in cur.description]
        names = sorted(r[cols.index("name")] for r in rows)
        statuses = {r[cols.index("status")] for r in rows}
    assert names == ["P1", "P2"]
    assert statuses == {"ACTIVE"}
    # The new secret works with the connector at once.
    with connect(
        connector,
        emulator,
        user=restricted["user"],
        authenticator="PROGRAMMATIC_ACCESS_TOKEN",
        token=added[1],
    ) as conn:
        assert conn.cursor().execute("SELECT CURRENT_ROLE()").fetchone() == (restricted["role"],)


def assert_login_refused(caught, emulator, mark, code, message):
    assert caught.value.errno == 250001
    assert caught.value.sqlstate == "08001"
    assert message in caught.value.msg
    assert emulator.login_codes(mark) == [code]


def test_another_role_at_connect_is_refused_with_394400(connector, emulator, restricted):
    mark = emulator.log_mark()
    with pytest.raises(connector.errors.DatabaseError) as caught:
        connect(
            connector,
            emulator,
            user=restricted["user"],
            authenticator="PROGRAMMATIC_ACCESS_TOKEN",
            token=restricted["token"],
            role=restricted["other"],
        )
    assert_login_refused(caught, emulator, mark, "394400", "Programmatic access token is invalid.")


def test_pat_of_another_user_is_refused_with_394400(connector, emulator, restricted):
    mark = emulator.log_mark()
    with pytest.raises(connector.errors.DatabaseError) as caught:
        connect(
            connector,
            emulator,
            user="ADMIN",
            authenticator="PROGRAMMATIC_ACCESS_TOKEN",
            token=restricted["token"],
        )
    assert_login_refused(caught, emulator, mark, "394400", "Programmatic access token is invalid.")


def test_key_pair_jwt_connects_as_admin(connector, emulator):
    with connect(
        connector,
        emulator,
        user="ADMIN",
        authenticator="SNOWFLAKE_JWT",
        private_key_file=str(emulator.admin_key_file),
    ) as conn:
        row = conn.cursor().execute("SELECT CURRENT_USER(), CURRENT_ROLE()").fetchone()
    assert row == ("ADMIN", "ACCOUNTADMIN")


def test_select_1_metadata_and_value(connector, emulator):
    with connect(connector, emulator, user="ADMIN", password=emulator.admin_token) as conn:
        cur = conn.cursor()
        assert cur.execute("select 1").fetchall() == [(1,)]
        (column,) = cur.description
    assert column.name == "1"
    assert (column.precision, column.scale, column.is_nullable) == (1, 0, False)


def test_statement_errors_carry_code_and_sqlstate(connector, emulator):
    with connect(connector, emulator, user="ADMIN", password=emulator.admin_token) as conn:
        cur = conn.cursor()
        with pytest.raises(connector.errors.ProgrammingError) as caught:
            cur.execute("USE ROLE NO_SUCH_ROLE_ANYWHERE")
        assert caught.value.errno == 3013
        assert caught.value.sqlstate == "42501"
        assert caught.value.sfqid
        # The connection is still usable, and USE ROLE updates the connector's context.
        cur.execute("USE ROLE PUBLIC")
        assert conn.role == "PUBLIC"
        assert cur.execute("SELECT CURRENT_ROLE()").fetchone() == ("PUBLIC",)


def test_multi_statement_and_async_results(connector, emulator):
    with connect(connector, emulator, user="ADMIN", password=emulator.admin_token) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1; SELECT CURRENT_USER()", num_statements=2)
        assert cur.fetchall() == [(1,)]
        assert cur.nextset() is not None
        assert cur.fetchall() == [("ADMIN",)]
        cur.execute_async("SELECT CURRENT_ROLE()")
        qid = cur.sfqid
        assert conn.get_query_status(qid).name == "SUCCESS"
        cur.query_result(qid)
        assert cur.fetchall() == [("ACCOUNTADMIN",)]


def test_wrong_password_is_390100(connector, emulator, restricted):
    mark = emulator.log_mark()
    with pytest.raises(connector.errors.DatabaseError) as caught:
        connect(connector, emulator, user=restricted["user"], password="not-the-password")
    assert_login_refused(
        caught, emulator, mark, "390100", "Incorrect username or password was specified."
    )


def test_session_renewal_and_heartbeat_through_the_connector(connector, emulator):
    # The connector renews on 390112 with its master token (protocols.md §4.1); the emulator's
    # session lives an hour, so the renewal is asked for directly.
    with connect(connector, emulator, user="ADMIN", password=emulator.admin_token) as conn:
        before = conn.rest.token
        conn.rest._renew_session()
        assert conn.rest.token != before
        assert conn.cursor().execute("SELECT CURRENT_USER()").fetchone() == ("ADMIN",)
        assert conn.rest._heartbeat().get("success") is True


def test_describe_runs_nothing(connector, emulator):
    with connect(connector, emulator, user="ADMIN", password=emulator.admin_token) as conn:
        cur = conn.cursor()
        (column,) = cur.describe("SELECT CURRENT_ROLE()")
        assert column.name == "CURRENT_ROLE()"
        cur.describe("CREATE ROLE DESCRIBED_ONLY")
        assert cur.execute("SHOW ROLES LIKE 'DESCRIBED_ONLY'").fetchall() == []
