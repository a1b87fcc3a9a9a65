//! `--store postgres://...` selects the PostgreSQL store for the real `snowpat` binary: tenant
//! provision, list and rotate keep their state there (checked through `PgStore` directly), and a
//! password in the URL is refused unechoed before anything is sent. PostgreSQL as in
//! snowpat-core's store tests (`SNOWPAT_TEST_POSTGRES_URL`, or a throwaway cluster).

mod common;
#[path = "../../core/tests/store_support/mod.rs"]
mod store_support;

use common::{stderr, stdout, Emulator, MULTI_TENANT_NO_CIDRS};
use snowpat_core::store::Store;
use store_support::Backend;

fn sha256_hex(text: &str) -> String {
    snowpat_core::tenants::secret_sha256(&secrecy::SecretString::from(text.to_owned()))
}

#[test]
fn tenant_commands_keep_their_state_in_postgres() {
    let emu = Emulator::start();
    let Some(pg) = emu.runtime.block_on(store_support::postgres()) else {
        return;
    };
    let store = pg.url();
    assert!(store.starts_with("postgres://"), "{store}");
    let cwd = tempfile::tempdir().unwrap();
    // Provisioned as ADMIN: the seed-exact network setting (see cli_config_entries.rs).
    emu.provision_acme(cwd.path(), MULTI_TENANT_NO_CIDRS, &store);
    let secret = std::fs::read_to_string(cwd.path().join("ACME.token")).unwrap();

    let list = emu.snowpat(
        cwd.path(),
        &["--store", &store, "--output", "json", "tenant", "list"],
    );
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(stdout(&list).contains("ACME"), "{}", stdout(&list));
    // The SQLite default store was not used.
    assert!(!cwd.path().join(".local/share/snowpat/state.db").exists());

    let check = |secret: &str| {
        emu.runtime.block_on(async {
            let direct = pg.open().await;
            let tenant = direct
                .tenant("ACME")
                .await
                .unwrap()
                .expect("ACME in postgres");
            assert_eq!(tenant.status, "active");
            let tokens = direct.tokens("ACME").await.unwrap();
            assert!(
                tokens
                    .iter()
                    .any(|t| t.secret_sha256 == sha256_hex(secret.trim_end())),
                "{tokens:?}"
            );
            assert!(!direct.journal("ACME").await.unwrap().is_empty());
        })
    };
    check(&secret);

    let rotate = emu.snowpat(
        cwd.path(),
        &[
            "--store",
            &store,
            "tenant",
            "rotate",
            "acme",
            "--grace-hours",
            "1",
        ],
    );
    assert!(rotate.status.success(), "{}", stderr(&rotate));
    let rotated = std::fs::read_to_string(cwd.path().join("ACME.token")).unwrap();
    assert_ne!(rotated, secret);
    check(&rotated);
}

#[test]
fn a_password_in_the_store_url_is_refused_unechoed_before_anything_is_sent() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    let before = emu.last_seq();
    for url in [
        "postgres://snowpat:hunter2-secret@127.0.0.1/snowpat",
        "postgresql://snowpat@127.0.0.1/snowpat?password=hunter2-secret",
    ] {
        let out = emu.snowpat(cwd.path(), &["--store", url, "tenant", "list"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("PGPASSWORD"), "{}", stderr(&out));
        assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
        assert!(!stdout(&out).contains("hunter2"), "{}", stdout(&out));
    }
    assert_eq!(emu.last_seq(), before);
}
