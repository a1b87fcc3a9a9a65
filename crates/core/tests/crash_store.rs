//! The store's journal batches, which crash recovery relies on: one multi-statement request is
//! journaled as one row per statement under its requestId, in statement order, before it is
//! sent, and finished together; `superseded` survives a reopen (a crashed run's leftovers).

use snowpat_core::store::{JournalState, SqliteStore, Store};

#[tokio::test]
async fn a_journal_batch_keeps_statement_order_one_request_id_and_finishes_together() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("state.db").display());
    let store = SqliteStore::open(&url).await.expect("store");
    let first = uuid::Uuid::new_v4();
    let kinds = [
        "CREATE USER",
        "GRANT ROLE",
        "ALTER USER",
        "GRANT PRIVILEGES",
    ];
    let entries: Vec<(&str, Option<&str>)> = kinds.iter().map(|k| (*k, None)).collect();
    let seqs = store
        .journal_begin_batch("ACME", first, &entries)
        .await
        .expect("begin");
    assert_eq!(seqs.len(), kinds.len());
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // A single token statement of another tenant in between, and a second batch.
    let other = store
        .journal_begin(
            "GLOBEX",
            "ALTER USER ADD PAT",
            uuid::Uuid::new_v4(),
            Some("ALTER USER X ADD PAT Y"),
        )
        .await
        .expect("single");
    let second = uuid::Uuid::new_v4();
    let later = store
        .journal_begin_batch("ACME", second, &entries[..2])
        .await
        .expect("begin 2");
    assert!(later[0] > other && other > seqs[3]);
    assert!(store
        .journal_begin_batch("ACME", second, &[])
        .await
        .expect("empty")
        .is_empty());

    store
        .journal_finish_batch(&seqs, JournalState::Done)
        .await
        .expect("finish");
    store
        .journal_finish_batch(&later, JournalState::Superseded)
        .await
        .expect("supersede");
    store
        .journal_finish_batch(&[], JournalState::Failed)
        .await
        .expect("empty finish");
    drop(store);

    let store = SqliteStore::open(&url).await.expect("reopen");
    let journal = store.journal("ACME").await.expect("journal");
    assert_eq!(journal.len(), 6);
    for (entry, kind) in journal.iter().zip(kinds) {
        assert_eq!(entry.kind, kind);
        assert_eq!(entry.request_id, first);
        assert_eq!(entry.state, JournalState::Done);
        assert_eq!(entry.statement, None);
    }
    for entry in &journal[4..] {
        assert_eq!(entry.request_id, second);
        assert_eq!(entry.state, JournalState::Superseded);
    }
    let globex = store.journal("GLOBEX").await.expect("journal");
    assert_eq!(globex.len(), 1);
    assert_eq!(globex[0].state, JournalState::Pending, "left alone");
    assert_eq!(
        globex[0].statement.as_deref(),
        Some("ALTER USER X ADD PAT Y")
    );
}
