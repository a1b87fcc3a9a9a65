//! Requests, typed rows and typed errors against the emulator (protocols §2).

use snowpat_client::codes::CodeClass;
use snowpat_client::{Credential, ErrorKind, ServerTime, Statement};

use crate::harness::{submissions, Emu};

#[tokio::test]
async fn protocols_2_5_typed_rows_and_server_time() {
    let emu = Emu::start().await;
    let client = emu.admin().build().unwrap();
    let result = client
        .execute(&Statement::new(
            "SELECT CURRENT_USER(), CURRENT_ROLE(), CURRENT_TIMESTAMP()",
        ))
        .await
        .unwrap();
    assert!(!result.statement_handle().is_empty());
    assert_eq!(result.code(), Some("090001"));
    let created = result.created_on().expect("createdOn");
    let row = result.first().expect("one row");
    assert_eq!(row.get::<String>("current_user()").unwrap(), "ADMIN");
    assert_eq!(row.get::<String>("CURRENT_ROLE()").unwrap(), "ACCOUNTADMIN");
    let now: ServerTime = row.get("current_timestamp()").unwrap();
    let skew = (now.epoch_millis() - created.epoch_millis()).abs();
    assert!(skew < 60_000, "server time {now} vs createdOn {created}");
}

#[tokio::test]
async fn protocols_2_8_every_submission_has_a_fresh_request_id() {
    let emu = Emu::start().await;
    let client = emu.admin().build().unwrap();
    let mark = emu.log_mark().await;
    let a = client.execute(&Statement::new("SELECT 1")).await.unwrap();
    let b = client.execute(&Statement::new("SELECT 1")).await.unwrap();
    assert_ne!(a.request_id(), b.request_id());
    let lines = emu.log(mark).await;
    let subs = submissions(&lines);
    assert_eq!(subs.len(), 2);
    for line in &subs {
        let id = line["request_id"].as_str().expect("requestId sent");
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
        assert_eq!(line["retry"], false, "a first attempt is not a retry");
    }
    assert_ne!(subs[0]["request_id"], subs[1]["request_id"]);
}

#[tokio::test]
async fn protocols_2_5_statement_errors_are_typed_and_not_retried() {
    let emu = Emu::start().await;
    let client = emu.admin().build().unwrap();
    let mark = emu.log_mark().await;
    let error = client
        .execute(&Statement::new("DROP ROLE NO_SUCH_ROLE"))
        .await
        .unwrap_err();
    let api = error.api().expect("an API error");
    assert_eq!(api.status, 422);
    assert_eq!(api.code.as_deref(), Some("002003"));
    assert_eq!(api.sql_state.as_deref(), Some("42S02"));
    assert!(api.statement_handle.is_some());
    assert_eq!(api.class(), CodeClass::NotFound);
    assert_eq!(api.info().unwrap().code, "002003");
    assert_eq!(error.retries(), 0);
    assert!(error.request_id().is_some());
    let text = error.to_string();
    assert!(
        text.contains("002003") && text.contains("requestId"),
        "{text}"
    );
    assert_eq!(
        submissions(&emu.log(mark).await).len(),
        1,
        "422 is not retried"
    );

    // Access control: 003001 (via a scripted fault) and a role the user does not hold.
    let error = client
        .execute(&Statement::new("SELECT 1").role("NO_SUCH_ROLE"))
        .await
        .unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.status, 400);
    assert_eq!(api.code.as_deref(), Some("390186"));
    assert_eq!(api.class(), CodeClass::Authorization);

    let error = client
        .execute(&Statement::new("USE ROLE PUBLIC"))
        .await
        .unwrap_err();
    assert_eq!(error.api().unwrap().code.as_deref(), Some("391911"));
}

#[tokio::test]
async fn protocols_1_2_bad_pat_is_401_394400_and_not_retried() {
    let emu = Emu::start().await;
    let admin = emu.admin().build().unwrap();
    let bogus = admin.with_credential(Credential::pat(
        "not-a-real-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .to_owned()
            .into(),
    ));
    let mark = emu.log_mark().await;
    let error = bogus
        .execute(&Statement::new("SELECT 1"))
        .await
        .unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.status, 401);
    assert_eq!(api.code.as_deref(), Some("394400"));
    assert_eq!(error.class(), Some(CodeClass::Authentication));
    assert_eq!(error.retries(), 0);
    assert_eq!(submissions(&emu.log(mark).await).len(), 1);

    // The same secret sent as OAUTH is refused as an OAuth token (protocols §1.2).
    let as_oauth = admin.with_credential(Credential::oauth(emu.admin_secret()));
    let error = as_oauth
        .execute(&Statement::new("SELECT 1"))
        .await
        .unwrap_err();
    assert_eq!(error.api().unwrap().code.as_deref(), Some("390303"));
}

#[tokio::test]
async fn protocols_2_6_multi_statement_children_are_fetched_in_order() {
    let emu = Emu::start().await;
    let client = emu.admin().build().unwrap();
    let results = client
        .execute_multi(&Statement::multi([
            "CREATE ROLE MULTI_A;",
            "SELECT CURRENT_USER()",
            "SHOW ROLES LIKE 'MULTI_%'",
        ]))
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(
        results[1]
            .first()
            .unwrap()
            .get::<String>("CURRENT_USER()")
            .unwrap(),
        "ADMIN"
    );
    assert_eq!(results[2].len(), 1);
    assert_eq!(
        results[2].rows()[0].get::<String>("name").unwrap(),
        "MULTI_A"
    );

    // A count mismatch is 000008 (protocols §2.6).
    let error = client
        .execute(&Statement::new("SELECT 1; SELECT 2").parameter("MULTI_STATEMENT_COUNT", "3"))
        .await
        .unwrap_err();
    assert_eq!(error.api().unwrap().code.as_deref(), Some("000008"));

    // A failing child: 422, earlier statements ran.
    let error = client
        .execute_multi(&Statement::multi([
            "CREATE ROLE MULTI_B",
            "DROP ROLE NOPE_NOPE",
        ]))
        .await
        .unwrap_err();
    assert_eq!(error.api().unwrap().status, 422);
    let shown = client
        .execute(&Statement::new("SHOW ROLES LIKE 'MULTI_B'"))
        .await
        .unwrap();
    assert_eq!(shown.len(), 1);
}

#[tokio::test]
async fn protocols_2_5_async_submission_is_polled_to_completion() {
    let emu = Emu::start().await;
    let client = emu.admin().build().unwrap();
    let mark = emu.log_mark().await;
    let result = client
        .execute(&Statement::new("SELECT CURRENT_USER()").asynchronous())
        .await
        .unwrap();
    assert_eq!(
        result
            .first()
            .unwrap()
            .get::<String>("current_user()")
            .unwrap(),
        "ADMIN"
    );
    let lines = emu.log(mark).await;
    let first = submissions(&lines);
    assert_eq!(first.len(), 1, "submitted once");
    assert!(
        lines.iter().any(|l| l["endpoint"]
            .as_str()
            .is_some_and(|e| e.starts_with("GET /api/v2/statements"))
            && l["statement_handle"] == result.statement_handle()),
        "the handle was polled: {lines:?}"
    );
}

#[tokio::test]
async fn protocols_2_7_partitions_are_fetched_and_concatenated() {
    let emu = Emu::start().await;
    let client = emu.admin().build().unwrap();
    // 1,100 users in batches: SHOW USERS then spans two 1,000-row partitions.
    for batch in 0..11 {
        let creates: Vec<String> = (0..100)
            .map(|i| format!("CREATE USER PART_{:04} TYPE = SERVICE", batch * 100 + i))
            .collect();
        client.execute(&Statement::multi(&creates)).await.unwrap();
    }
    let mark = emu.log_mark().await;
    let users = client
        .execute(&Statement::new("SHOW USERS LIKE 'PART_%'"))
        .await
        .unwrap();
    assert_eq!(users.len(), 1100);
    let mut names: Vec<String> = users
        .rows()
        .iter()
        .map(|r| r.get::<String>("NAME").unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 1100);
    let lines = emu.log(mark).await;
    assert!(
        lines.iter().any(|l| l["endpoint"]
            .as_str()
            .is_some_and(|e| e.starts_with("GET /api/v2/statements"))),
        "partition 1 was fetched: {lines:?}"
    );
}

#[tokio::test]
async fn protocols_9_budget_exhaustion_is_reported_with_its_retries() {
    let emu = Emu::start_with(|c| {
        c.fault_rate = 1.0;
        c.seed = 4;
    })
    .await;
    let client = emu
        .admin()
        .retry(snowpat_client::RetryPolicy {
            max_attempts: 3,
            base_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(5),
        })
        .build()
        .unwrap();
    let error = client
        .execute(&Statement::new("CREATE ROLE NEVER"))
        .await
        .unwrap_err();
    assert!(error.retries_exhausted());
    assert_eq!(error.retries(), 2);
    let status = error.api().unwrap().status;
    assert!(status == 429 || status == 503, "{status}");
    assert!(matches!(
        error.class(),
        Some(CodeClass::RateLimited | CodeClass::Unavailable)
    ));
    let lines = emu.log(0).await;
    assert_eq!(submissions(&lines).len(), 3);
    assert!(lines.iter().all(|l| l["executed"] == false));
}

#[tokio::test]
async fn protocols_9_connect_errors_are_retried_then_typed() {
    // A port nothing listens on: bind, note the port, close.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = snowpat_client::BaseUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let client = snowpat_client::Client::builder(base, Credential::pat("x".to_owned().into()))
        .retry(snowpat_client::RetryPolicy {
            max_attempts: 4,
            base_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(5),
        })
        .build()
        .unwrap();
    let error = client
        .execute(&Statement::new("SELECT 1"))
        .await
        .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Transport(_)), "{error:?}");
    assert_eq!(error.retries(), 3);
    assert!(error.retries_exhausted());
}
