//! One store test suite, run against every backend (architecture: "when PostgreSQL joins SQLite,
//! one test suite runs against both"): each test below is a generic function over
//! [`store_support::Backend`], instantiated once per backend by `both_backends!` (test names
//! `sqlite::NAME` and `postgres::NAME`). Two handles opened on one database are two processes'
//! view of it (separate connection pools).

mod store_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use snowpat_core::store::{
    AnyStore, ExchangeTokenRecord, JournalState, RemovalRecord, Store, StoreError, TenantRecord,
    TokenRecord,
};
use store_support::Backend;

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::store_support::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(backend) = super::store_support::postgres().await else {
                        return;
                    };
                    super::$name(backend).await;
                }
            )*
        }
    };
}

both_backends!(
    tenants_upsert_keeps_created_at_and_list_in_id_order,
    tokens_are_replaced_by_name_and_deleted_per_tenant,
    journal_entries_are_ordered_per_tenant_and_finish_in_any_state,
    journal_batches_share_one_request_id_and_finish_together,
    journal_seqs_are_unique_across_two_processes,
    state_survives_reopening,
    exchange_lock_has_one_holder_until_released_or_its_lease_runs_out,
    exchange_lock_contention_between_two_processes_has_exactly_one_winner,
    exchange_tokens_are_replaced_listed_and_deleted,
    removals_are_replaced_follow_rotation_and_finish,
    migrations_apply_once_however_often_and_concurrently_the_store_is_opened,
    any_store_opens_the_backend_its_url_names,
);

fn tenant(id: &str, status: &str, created_at: &str) -> TenantRecord {
    TenantRecord {
        id: id.into(),
        user: format!("DEPLOYMENT_{id}"),
        token_name: format!("DEPLOYMENT_{id}_PAT"),
        role: "CORTEX_REST_API_ROLE".into(),
        status: status.into(),
        created_at: created_at.into(),
        updated_at: created_at.into(),
    }
}

fn token(tenant: &str, name: &str, sha: &str, expires_at: Option<&str>) -> TokenRecord {
    TokenRecord {
        tenant: tenant.into(),
        name: name.into(),
        role: "CORTEX_REST_API_ROLE".into(),
        expires_at: expires_at.map(Into::into),
        secret_sha256: sha.into(),
        sink: format!("file:/run/secrets/{tenant}"),
        updated_at: "2026-11-22T10:00:00.123456789+00:00".into(),
    }
}

async fn tenants_upsert_keeps_created_at_and_list_in_id_order<B: Backend>(backend: B) {
    let store = backend.open().await;
    assert!(store.tenant("ACME").await.unwrap().is_none());
    assert!(store.tenants().await.unwrap().is_empty());
    // Nanosecond stamps and mixed case read back exactly as written.
    let acme = tenant("ACME", "active", "2026-11-22T10:00:00.123456789+00:00");
    let beta = tenant("BETA", "active", "2026-11-22T11:00:00+00:00");
    let lower = tenant("_x", "active", "2026-11-22T12:00:00+00:00");
    for t in [&lower, &beta, &acme] {
        store.upsert_tenant(t).await.unwrap();
    }
    assert_eq!(store.tenant("ACME").await.unwrap(), Some(acme.clone()));
    let ids: Vec<String> = store
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    // Byte order on both backends ('_' sorts after upper-case letters).
    assert_eq!(ids, ["ACME", "BETA", "_x"]);

    // An upsert of a known tenant keeps its created_at and takes everything else.
    let mut changed = tenant("ACME", "disabled", "2030-01-01T00:00:00+00:00");
    changed.role = "OTHER_ROLE".into();
    store.upsert_tenant(&changed).await.unwrap();
    let got = store.tenant("ACME").await.unwrap().unwrap();
    assert_eq!(got.created_at, acme.created_at);
    assert_eq!(got.status, "disabled");
    assert_eq!(got.role, "OTHER_ROLE");
    assert_eq!(got.updated_at, "2030-01-01T00:00:00+00:00");

    store.set_tenant_status("BETA", "revoked").await.unwrap();
    let beta_now = store.tenant("BETA").await.unwrap().unwrap();
    assert_eq!(beta_now.status, "revoked");
    assert_ne!(beta_now.updated_at, beta.updated_at);
    assert_eq!(beta_now.created_at, beta.created_at);
    // Unknown tenants: nothing happens, nothing appears.
    store.set_tenant_status("NOPE", "revoked").await.unwrap();
    assert!(store.tenant("NOPE").await.unwrap().is_none());
    assert_eq!(store.tenants().await.unwrap().len(), 3);
}

async fn tokens_are_replaced_by_name_and_deleted_per_tenant<B: Backend>(backend: B) {
    let store = backend.open().await;
    assert!(store.tokens("ACME").await.unwrap().is_empty());
    let b = token("ACME", "B_PAT", "bb", Some("2027-02-20T10:00:00.000-08:00"));
    let a = token("ACME", "A_PAT", "aa", None);
    let other = token("BETA", "A_PAT", "cc", Some("2027-01-01T00:00:00Z"));
    for t in [&b, &a, &other] {
        store.put_token(t).await.unwrap();
    }
    assert_eq!(
        store.tokens("ACME").await.unwrap(),
        vec![a.clone(), b.clone()]
    );

    // Same (tenant, name): replaced, not added.
    let mut rotated = b.clone();
    rotated.secret_sha256 = "b2".into();
    rotated.expires_at = None;
    rotated.sink = "stdout".into();
    rotated.role = "R2".into();
    store.put_token(&rotated).await.unwrap();
    assert_eq!(store.tokens("ACME").await.unwrap(), vec![a, rotated]);

    store.delete_tokens("ACME").await.unwrap();
    assert!(store.tokens("ACME").await.unwrap().is_empty());
    assert_eq!(store.tokens("BETA").await.unwrap(), vec![other]);
    store.delete_tokens("NOPE").await.unwrap();
}

async fn journal_entries_are_ordered_per_tenant_and_finish_in_any_state<B: Backend>(backend: B) {
    let store = backend.open().await;
    assert!(store.journal("ACME").await.unwrap().is_empty());
    let ids: Vec<uuid::Uuid> = (0..4).map(|_| uuid::Uuid::new_v4()).collect();
    let add = "ALTER USER DEPLOYMENT_ACME ADD PROGRAMMATIC ACCESS TOKEN IF NOT EXISTS X";
    let s0 = store
        .journal_begin("ACME", "CREATE USER", ids[0], None)
        .await
        .unwrap();
    let other = store
        .journal_begin("BETA", "CREATE USER", ids[1], None)
        .await
        .unwrap();
    let s1 = store
        .journal_begin("ACME", "ALTER USER ADD PAT", ids[2], Some(add))
        .await
        .unwrap();
    let s2 = store
        .journal_begin(
            "ACME",
            "ALTER USER ROTATE PAT",
            ids[3],
            Some("ROTATE 'quoted'"),
        )
        .await
        .unwrap();
    assert!(
        s0 < other && other < s1 && s1 < s2,
        "{s0} {other} {s1} {s2}"
    );

    let journal = store.journal("ACME").await.unwrap();
    assert_eq!(
        journal.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [s0, s1, s2]
    );
    assert!(journal.iter().all(|e| e.state == JournalState::Pending));
    assert!(journal.iter().all(|e| e.tenant == "ACME"));
    assert_eq!(journal[0].request_id, ids[0]);
    assert_eq!(journal[0].statement, None);
    assert_eq!(journal[1].kind, "ALTER USER ADD PAT");
    assert_eq!(journal[1].request_id, ids[2]);
    assert_eq!(journal[1].statement.as_deref(), Some(add));
    assert_eq!(journal[2].statement.as_deref(), Some("ROTATE 'quoted'"));

    store.journal_finish(s0, JournalState::Done).await.unwrap();
    store
        .journal_finish(s1, JournalState::Failed)
        .await
        .unwrap();
    store
        .journal_finish(s2, JournalState::Superseded)
        .await
        .unwrap();
    let states: Vec<JournalState> = store
        .journal("ACME")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(
        states,
        [
            JournalState::Done,
            JournalState::Failed,
            JournalState::Superseded
        ]
    );
    // A finished entry can be marked again (a rerun superseding a done one is the caller's call).
    store.journal_finish(s1, JournalState::Done).await.unwrap();
    assert_eq!(
        store.journal("ACME").await.unwrap()[1].state,
        JournalState::Done
    );
    // The other tenant's entry is untouched.
    let beta = store.journal("BETA").await.unwrap();
    assert_eq!(beta.len(), 1);
    assert_eq!(beta[0].seq, other);
    assert_eq!(beta[0].state, JournalState::Pending);
    // Finishing an unknown seq changes nothing.
    store
        .journal_finish(s2 + 1000, JournalState::Done)
        .await
        .unwrap();
    assert_eq!(store.journal("BETA").await.unwrap(), beta);
}

async fn journal_batches_share_one_request_id_and_finish_together<B: Backend>(backend: B) {
    let store = backend.open().await;
    let request = uuid::Uuid::new_v4();
    let before = store
        .journal_begin("ACME", "CREATE ROLE", uuid::Uuid::new_v4(), None)
        .await
        .unwrap();
    let entries = [
        ("CREATE USER", None),
        ("GRANT ROLE", Some("GRANT ROLE R TO USER U")),
        ("ALTER USER SET AUTHENTICATION POLICY", None),
    ];
    let seqs = store
        .journal_begin_batch("ACME", request, &entries)
        .await
        .unwrap();
    assert_eq!(seqs.len(), 3);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(before < seqs[0]);
    let other = store
        .journal_begin_batch("BETA", uuid::Uuid::new_v4(), &[("CREATE USER", None)])
        .await
        .unwrap();

    let journal = store.journal("ACME").await.unwrap();
    assert_eq!(journal.len(), 4);
    let batch = &journal[1..];
    assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs);
    assert!(batch.iter().all(|e| e.request_id == request));
    assert!(batch.iter().all(|e| e.state == JournalState::Pending));
    assert_eq!(
        batch.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        entries.iter().map(|e| e.0).collect::<Vec<_>>()
    );
    assert_eq!(
        batch[1].statement.as_deref(),
        Some("GRANT ROLE R TO USER U")
    );

    store
        .journal_finish_batch(&seqs, JournalState::Done)
        .await
        .unwrap();
    let journal = store.journal("ACME").await.unwrap();
    assert_eq!(journal[0].state, JournalState::Pending);
    assert!(journal[1..].iter().all(|e| e.state == JournalState::Done));
    assert_eq!(
        store.journal("BETA").await.unwrap()[0].state,
        JournalState::Pending
    );
    store
        .journal_finish_batch(&other, JournalState::Failed)
        .await
        .unwrap();
    assert_eq!(
        store.journal("BETA").await.unwrap()[0].state,
        JournalState::Failed
    );

    // Empty batches are no-ops.
    assert!(store
        .journal_begin_batch("ACME", uuid::Uuid::new_v4(), &[])
        .await
        .unwrap()
        .is_empty());
    store
        .journal_finish_batch(&[], JournalState::Done)
        .await
        .unwrap();
    assert_eq!(store.journal("ACME").await.unwrap(), journal);
}

async fn journal_seqs_are_unique_across_two_processes<B: Backend>(backend: B) {
    let a = Arc::new(backend.open().await);
    let b = Arc::new(backend.open().await);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let a = a.clone();
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                vec![a
                    .journal_begin("ACME", "K", uuid::Uuid::new_v4(), None)
                    .await
                    .unwrap()]
            } else {
                b.journal_begin_batch("ACME", uuid::Uuid::new_v4(), &[("K", None), ("K", None)])
                    .await
                    .unwrap()
            }
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    let unique: BTreeSet<i64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), 60);
    let journal = a.journal("ACME").await.unwrap();
    assert_eq!(
        journal.iter().map(|e| e.seq).collect::<BTreeSet<_>>(),
        unique
    );
    // 20 single entries and 20 batches of two, each batch under its own request id.
    let mut per_request = std::collections::BTreeMap::<uuid::Uuid, usize>::new();
    for entry in &journal {
        *per_request.entry(entry.request_id).or_default() += 1;
    }
    let mut sizes: Vec<usize> = per_request.into_values().collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [vec![1; 20], vec![2; 20]].concat());
}

async fn state_survives_reopening<B: Backend>(backend: B) {
    let request = uuid::Uuid::new_v4();
    {
        let store = backend.open().await;
        store
            .upsert_tenant(&tenant("ACME", "active", "2026-11-22T10:00:00+00:00"))
            .await
            .unwrap();
        store
            .put_token(&token("ACME", "P", "aa", None))
            .await
            .unwrap();
        let seq = store
            .journal_begin("ACME", "ALTER USER ADD PAT", request, Some("ADD"))
            .await
            .unwrap();
        store
            .journal_begin("ACME", "ALTER USER ROTATE PAT", request, Some("ROTATE"))
            .await
            .unwrap();
        store
            .journal_finish(seq, JournalState::Superseded)
            .await
            .unwrap();
        store
            .schedule_removal(&RemovalRecord {
                user: "U".into(),
                object_name: "SNOWPAT_R".into(),
                deadline: 500,
                mode: "delegated".into(),
            })
            .await
            .unwrap();
        assert!(store.exchange_try_lock("k", "a", 0, 10_000).await.unwrap());
    }
    let store = backend.open().await;
    assert_eq!(
        store.tenant("ACME").await.unwrap().unwrap().status,
        "active"
    );
    assert_eq!(store.tokens("ACME").await.unwrap().len(), 1);
    let journal = store.journal("ACME").await.unwrap();
    assert_eq!(journal.len(), 2);
    assert!(journal.iter().all(|e| e.request_id == request));
    assert_eq!(journal[0].state, JournalState::Superseded);
    assert_eq!(journal[1].state, JournalState::Pending);
    assert_eq!(journal[1].statement.as_deref(), Some("ROTATE"));
    assert_eq!(store.due_removals(500).await.unwrap().len(), 1);
    // The lease outlives the process that took it.
    assert!(!store
        .exchange_try_lock("k", "b", 5_000, 20_000)
        .await
        .unwrap());
}

async fn exchange_lock_has_one_holder_until_released_or_its_lease_runs_out<B: Backend>(backend: B) {
    let store = backend.open().await;
    assert!(store.exchange_try_lock("k", "a", 1000, 2000).await.unwrap());
    assert!(!store.exchange_try_lock("k", "b", 1500, 2500).await.unwrap());
    // The holder renews.
    assert!(store.exchange_try_lock("k", "a", 1500, 3000).await.unwrap());
    // Another key is independent.
    assert!(store
        .exchange_try_lock("k2", "b", 1500, 2500)
        .await
        .unwrap());
    // b cannot release a's lock.
    store.exchange_unlock("k", "b").await.unwrap();
    assert!(!store.exchange_try_lock("k", "b", 2000, 4000).await.unwrap());
    // At the lease's last millisecond it still holds; after it, a crashed holder's lock is
    // taken over.
    assert!(!store.exchange_try_lock("k", "b", 3000, 5000).await.unwrap());
    assert!(store.exchange_try_lock("k", "b", 3001, 5000).await.unwrap());
    // The old holder lost it, and cannot release it either.
    assert!(!store.exchange_try_lock("k", "a", 3002, 6000).await.unwrap());
    store.exchange_unlock("k", "a").await.unwrap();
    assert!(!store.exchange_try_lock("k", "c", 3003, 6000).await.unwrap());
    store.exchange_unlock("k", "b").await.unwrap();
    assert!(store.exchange_try_lock("k", "a", 3004, 5000).await.unwrap());
    // Unlocking a free key is a no-op.
    store.exchange_unlock("free", "a").await.unwrap();
}

async fn exchange_lock_contention_between_two_processes_has_exactly_one_winner<B: Backend>(
    backend: B,
) {
    let stores = [
        Arc::new(backend.open().await),
        Arc::new(backend.open().await),
    ];
    let mut last_winner = String::new();
    for round in 0..20 {
        let key = format!("USER_{round}/SNOWPAT_R");
        // A fresh key, then the same key after every lease ran out: 16 contenders (8 per
        // process) each time, exactly one wins.
        for (now, lease_until) in [(1_000, 31_000), (40_000, 70_000)] {
            let mut tasks = Vec::new();
            for contender in 0..16 {
                let store = stores[contender % 2].clone();
                let key = key.clone();
                tasks.push(tokio::spawn(async move {
                    let holder = format!("process-{}-task-{contender}", contender % 2);
                    let won = store
                        .exchange_try_lock(&key, &holder, now, lease_until)
                        .await
                        .unwrap();
                    won.then_some(holder)
                }));
            }
            let mut winners = Vec::new();
            for task in tasks {
                winners.extend(task.await.unwrap());
            }
            assert_eq!(winners.len(), 1, "round {round} at {now}: {winners:?}");
            last_winner = winners[0].clone();
            // The winner holds it from either process's view; a loser does not.
            let winner = &winners[0];
            for store in &stores {
                assert!(store
                    .exchange_try_lock(&key, winner, now + 1, lease_until)
                    .await
                    .unwrap());
                assert!(!store
                    .exchange_try_lock(&key, "someone-else", now + 1, lease_until)
                    .await
                    .unwrap());
            }
        }
        // While the lease runs, nobody else gets it from either process.
        let mut tasks = Vec::new();
        for contender in 0..8 {
            let store = stores[contender % 2].clone();
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .exchange_try_lock(&key, &format!("late-{contender}"), 41_000, 71_000)
                    .await
                    .unwrap()
            }));
        }
        for task in tasks {
            assert!(!task.await.unwrap(), "the lease was still held");
        }
        // Released by its holder (seen through the other process), the key is free again.
        stores[1].exchange_unlock(&key, &last_winner).await.unwrap();
        assert!(stores[0]
            .exchange_try_lock(&key, "next", 41_000, 71_000)
            .await
            .unwrap());
    }
}

async fn exchange_tokens_are_replaced_listed_and_deleted<B: Backend>(backend: B) {
    let store = backend.open().await;
    assert!(store.exchange_tokens().await.unwrap().is_empty());
    assert!(store
        .exchange_token("U", "SNOWPAT_R")
        .await
        .unwrap()
        .is_none());
    let record = ExchangeTokenRecord {
        user: "U".into(),
        token_name: "SNOWPAT_R".into(),
        role: "R".into(),
        policy: "agents".into(),
        mode: "as-user".into(),
        minted_at: 1_795_000_000_000,
        expires_at: Some(1_795_086_400_000),
        secret_sha256: "ab".into(),
        updated_at: "2026-11-22T10:00:00.123456789+00:00".into(),
    };
    let other = ExchangeTokenRecord {
        user: "A".into(),
        token_name: "SNOWPAT_S".into(),
        expires_at: None,
        mode: "delegated".into(),
        ..record.clone()
    };
    store.put_exchange_token(&record).await.unwrap();
    store.put_exchange_token(&other).await.unwrap();
    assert_eq!(
        store.exchange_token("U", "SNOWPAT_R").await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        store.exchange_tokens().await.unwrap(),
        vec![other.clone(), record.clone()]
    );

    let rotated = ExchangeTokenRecord {
        minted_at: record.minted_at + 3_600_000,
        expires_at: Some(1_795_090_000_000),
        secret_sha256: "cd".into(),
        policy: "agents-v2".into(),
        ..record.clone()
    };
    store.put_exchange_token(&rotated).await.unwrap();
    assert_eq!(
        store.exchange_token("U", "SNOWPAT_R").await.unwrap(),
        Some(rotated)
    );
    assert_eq!(store.exchange_tokens().await.unwrap().len(), 2);

    store.delete_exchange_token("U", "SNOWPAT_R").await.unwrap();
    assert!(store
        .exchange_token("U", "SNOWPAT_R")
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.exchange_tokens().await.unwrap(), vec![other]);
    store.delete_exchange_token("U", "SNOWPAT_R").await.unwrap();
}

async fn removals_are_replaced_follow_rotation_and_finish<B: Backend>(backend: B) {
    let store = backend.open().await;
    let removal = |object: &str, deadline: i64| RemovalRecord {
        user: "U".into(),
        object_name: object.into(),
        deadline,
        mode: "delegated".into(),
    };
    assert!(store.pending_removals().await.unwrap().is_empty());
    store
        .schedule_removal(&removal("SNOWPAT_S", 900))
        .await
        .unwrap();
    store
        .schedule_removal(&removal("SNOWPAT_R", 700))
        .await
        .unwrap();
    // Scheduling the same object again replaces its deadline (and mode).
    store
        .schedule_removal(&RemovalRecord {
            mode: "as-user".into(),
            ..removal("SNOWPAT_R", 500)
        })
        .await
        .unwrap();
    let pending = store.pending_removals().await.unwrap();
    assert_eq!(
        pending,
        vec![
            RemovalRecord {
                mode: "as-user".into(),
                ..removal("SNOWPAT_R", 500)
            },
            removal("SNOWPAT_S", 900)
        ]
    );
    assert!(store.due_removals(499).await.unwrap().is_empty());

    // A ROTATE moved the old secret: its removal follows.
    store
        .rename_removal("U", "SNOWPAT_R", "SNOWPAT_R_ROTATED_1")
        .await
        .unwrap();
    let due = store.due_removals(500).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].object_name, "SNOWPAT_R_ROTATED_1");
    assert_eq!(
        store
            .due_removals(10_000)
            .await
            .unwrap()
            .iter()
            .map(|r| r.object_name.as_str())
            .collect::<Vec<_>>(),
        ["SNOWPAT_R_ROTATED_1", "SNOWPAT_S"]
    );

    store
        .finish_removal("U", "SNOWPAT_R_ROTATED_1")
        .await
        .unwrap();
    assert!(store.due_removals(600).await.unwrap().is_empty());
    assert_eq!(
        store.pending_removals().await.unwrap(),
        vec![removal("SNOWPAT_S", 900)]
    );
    // A finished removal is not renamed, and a rename of an unknown object does nothing.
    store
        .rename_removal("U", "SNOWPAT_R_ROTATED_1", "X")
        .await
        .unwrap();
    store.rename_removal("U", "NOPE", "Y").await.unwrap();
    assert_eq!(store.pending_removals().await.unwrap().len(), 1);
    // Scheduling a done object again makes it pending again.
    store
        .schedule_removal(&removal("SNOWPAT_R_ROTATED_1", 1_000))
        .await
        .unwrap();
    assert_eq!(store.pending_removals().await.unwrap().len(), 2);
}

/// The migration versions in `dir` (`VERSION_name.sql`).
fn migration_files(dir: &std::path::Path) -> Vec<i64> {
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".sql")?.split('_').next()?.parse().ok()
        })
        .collect();
    versions.sort();
    versions
}

async fn migrations_apply_once_however_often_and_concurrently_the_store_is_opened<B: Backend>(
    backend: B,
) {
    let expected = migration_files(&backend.migrations_dir());
    assert!(expected.len() >= 2, "{expected:?}");
    // Two processes starting at once on a fresh database (where the backend allows it).
    let backend = Arc::new(backend);
    let (a, b) = if B::CONCURRENT_FIRST_OPEN {
        tokio::join!(
            {
                let backend = backend.clone();
                async move { backend.open().await }
            },
            {
                let backend = backend.clone();
                async move { backend.open().await }
            }
        )
    } else {
        let a = backend.open().await;
        (a, backend.open().await)
    };
    a.upsert_tenant(&tenant("ACME", "active", "2026-11-22T10:00:00+00:00"))
        .await
        .unwrap();
    assert_eq!(backend.applied_migrations().await, expected);
    // Reopening runs the migrator again: nothing re-applied, nothing lost.
    for _ in 0..3 {
        let again = backend.open().await;
        assert_eq!(again.tenants().await.unwrap().len(), 1);
    }
    assert_eq!(b.tenants().await.unwrap().len(), 1);
    assert_eq!(backend.applied_migrations().await, expected);
    eprintln!("{}: migrations {expected:?} applied once", B::NAME);
}

/// The PostgreSQL migrations mirror the SQLite ones, version for version.
#[test]
fn postgres_migrations_mirror_the_sqlite_ones() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let sqlite = migration_files(&root);
    let postgres = migration_files(&root.join("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}

async fn any_store_opens_the_backend_its_url_names<B: Backend>(backend: B) {
    let direct = backend.open().await;
    direct
        .upsert_tenant(&tenant("ACME", "active", "2026-11-22T10:00:00+00:00"))
        .await
        .unwrap();
    let any = AnyStore::open(&backend.url()).await.unwrap();
    assert_eq!(any.backend(), B::NAME);
    // The same database, through the dispatching store.
    assert_eq!(any.tenant("ACME").await.unwrap().unwrap().status, "active");
    any.set_tenant_status("ACME", "disabled").await.unwrap();
    assert_eq!(
        direct.tenant("ACME").await.unwrap().unwrap().status,
        "disabled"
    );
}

/// A store URL's password never appears in an error, whatever fails.
#[tokio::test]
async fn store_urls_with_passwords_fail_without_echoing_them() {
    for url in [
        "postgres://snowpat:hunter2-secret@127.0.0.1:1/snowpat",
        "postgresql://snowpat@127.0.0.1:1/snowpat?password=hunter2-secret",
        "postgres://snowpat:hunter2-secret@127.0.0.1:notaport/snowpat",
        "mysql://snowpat:hunter2-secret@127.0.0.1/snowpat",
    ] {
        let err = AnyStore::open(url).await.expect_err(url);
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        if url.starts_with("mysql") {
            assert!(matches!(err, StoreError::Url(_)), "{err:?}");
        }
    }
}
