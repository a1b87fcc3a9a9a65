//! Store additions for the exchange service: leases, exchange tokens, journalled removals.

use super::{stamp, ExchangeTokenRecord, RemovalRecord, SqliteStore, Store};

async fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_path(&dir.path().join("s.db"))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn exchange_lock_has_one_holder_until_released_or_its_lease_runs_out() {
    let (_dir, store) = open().await;
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
    // After the lease, a crashed holder's lock is taken over.
    assert!(store.exchange_try_lock("k", "b", 3001, 5000).await.unwrap());
    store.exchange_unlock("k", "b").await.unwrap();
    assert!(store.exchange_try_lock("k", "a", 3002, 5000).await.unwrap());
}

#[tokio::test]
async fn exchange_removals_follow_rotation_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let store = SqliteStore::open_path(&path).await.unwrap();
        for (object, deadline) in [("SNOWPAT_R", 500), ("SNOWPAT_S", 900)] {
            store
                .schedule_removal(&RemovalRecord {
                    user: "U".into(),
                    object_name: object.into(),
                    deadline,
                    mode: "delegated".into(),
                })
                .await
                .unwrap();
        }
        store
            .rename_removal("U", "SNOWPAT_R", "SNOWPAT_R_ROTATED_1")
            .await
            .unwrap();
    }
    let store = SqliteStore::open_path(&path).await.unwrap();
    let due = store.due_removals(600).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].object_name, "SNOWPAT_R_ROTATED_1");
    store
        .finish_removal("U", "SNOWPAT_R_ROTATED_1")
        .await
        .unwrap();
    assert!(store.due_removals(600).await.unwrap().is_empty());
    assert_eq!(store.pending_removals().await.unwrap().len(), 1);

    let record = ExchangeTokenRecord {
        user: "U".into(),
        token_name: "SNOWPAT_R".into(),
        role: "R".into(),
        policy: "agents".into(),
        mode: "as-user".into(),
        minted_at: 10,
        expires_at: Some(86_400_010),
        secret_sha256: "ab".into(),
        updated_at: stamp(),
    };
    store.put_exchange_token(&record).await.unwrap();
    assert_eq!(
        store.exchange_token("U", "SNOWPAT_R").await.unwrap(),
        Some(record)
    );
    assert_eq!(store.exchange_tokens().await.unwrap().len(), 1);
    store.delete_exchange_token("U", "SNOWPAT_R").await.unwrap();
    assert!(store
        .exchange_token("U", "SNOWPAT_R")
        .await
        .unwrap()
        .is_none());
}
