//! A scripted HTTP server for what the emulator does not do on demand: 500/502/504/408 answers,
//! `Retry-After`, non-JSON bodies, gzip partitions written by hand, refused statuses. Each
//! connection serves one request (`Connection: close`) with the next scripted reply.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use snowpat_client::codes::CodeClass;
use snowpat_client::{BaseUrl, Client, Credential, ErrorKind, RetryPolicy, Statement};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One recorded request.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn query(&self, key: &str) -> Option<&str> {
        let query = self.target.split_once('?')?.1;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

enum Reply {
    Json(u16, serde_json::Value),
    Headers(u16, &'static str, Vec<u8>, Vec<(&'static str, String)>),
    Close,
}

struct Mock {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Mock {
    async fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(replies)));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let mut buffer = Vec::new();
                let mut chunk = [0_u8; 4096];
                // Read the head, then Content-Length bytes of body.
                let head_end = loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i + 4);
                    }
                };
                let Some(head_end) = head_end else { continue };
                let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
                let mut lines = head.lines();
                let request_line = lines.next().unwrap_or_default().to_owned();
                let mut parts = request_line.split(' ');
                let method = parts.next().unwrap_or_default().to_owned();
                let target = parts.next().unwrap_or_default().to_owned();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                while buffer.len() < head_end + length {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                }
                let body_end = buffer.len().min(head_end + length);
                let body = String::from_utf8_lossy(&buffer[head_end..body_end]).to_string();
                log.lock().unwrap().push(Seen {
                    method,
                    target,
                    headers,
                    body,
                });
                let reply = script.lock().unwrap().pop_front();
                let (status, content_type, body, extra) = match reply {
                    Some(Reply::Json(status, value)) => (
                        status,
                        "application/json",
                        value.to_string().into_bytes(),
                        vec![],
                    ),
                    Some(Reply::Headers(status, content_type, body, extra)) => {
                        (status, content_type, body, extra)
                    }
                    Some(Reply::Close) => continue, // dropped without a byte
                    None => (500, "text/plain", b"script exhausted".to_vec(), vec![]),
                };
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (name, value) in extra {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\n");
                let mut bytes = response.into_bytes();
                bytes.extend_from_slice(&body);
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn client(&self, credential: Credential) -> Client {
        Client::builder(BaseUrl::parse(&self.url).unwrap(), credential)
            .retry(RetryPolicy {
                max_attempts: 20,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(20),
            })
            .poll_interval(Duration::from_millis(1))
            .build()
            .unwrap()
    }
}

fn pat() -> Credential {
    Credential::pat(SecretString::from("mock-pat-secret"))
}

fn ok_body(
    handle: &str,
    rows: serde_json::Value,
    partitions: serde_json::Value,
) -> serde_json::Value {
    json!({
        "resultSetMetaData": {"rowType": [{"name": "N", "type": "FIXED"}], "partitionInfo": partitions},
        "data": rows,
        "code": "090001", "sqlState": "00000", "statementHandle": handle,
        "message": "Statement executed successfully.", "createdOn": 1_620_151_693_299_i64
    })
}

#[tokio::test]
async fn protocols_9_server_errors_and_drops_are_retried_with_the_same_request_id() {
    let mock = Mock::start(vec![
        Reply::Json(500, json!({"message": "oops"})),
        Reply::Close,
        Reply::Headers(
            502,
            "text/html",
            b"<html>bad gateway</html>".to_vec(),
            vec![],
        ),
        Reply::Json(504, json!({})),
        Reply::Json(408, json!({"code": "000630", "message": "timeout"})),
        Reply::Headers(
            429,
            "application/json",
            br#"{"code":"390505","message":"Too many requests."}"#.to_vec(),
            vec![("Retry-After", "0".into())],
        ),
        Reply::Json(503, json!({})),
        Reply::Json(200, ok_body("h1", json!([["7"]]), json!([{"rowCount": 1}]))),
    ])
    .await;
    let result = mock
        .client(pat())
        .execute(&Statement::new("SELECT 7"))
        .await
        .unwrap();
    assert_eq!(result.first().unwrap().get::<i64>("n").unwrap(), 7);
    let seen = mock.seen();
    assert_eq!(seen.len(), 8);
    let id = seen[0].query("requestId").unwrap().to_owned();
    assert_eq!(
        seen[0].query("retry"),
        None,
        "the first attempt is not a retry"
    );
    for s in &seen[1..] {
        assert_eq!(s.query("requestId"), Some(id.as_str()), "same requestId");
        assert_eq!(s.query("retry"), Some("true"));
    }
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(s.header("authorization"), Some("Bearer mock-pat-secret"));
        assert_eq!(
            s.header("x-snowflake-authorization-token-type"),
            Some("PROGRAMMATIC_ACCESS_TOKEN")
        );
        assert_eq!(s.header("content-type"), Some("application/json"));
        assert_eq!(s.header("accept"), Some("application/json"));
        assert!(s.header("user-agent").unwrap().starts_with("snowpat/"));
    }
}

#[tokio::test]
async fn protocols_9_client_errors_are_not_retried() {
    for (status, class) in [
        (400, CodeClass::Request),
        (401, CodeClass::Authentication),
        (403, CodeClass::Authorization),
        (404, CodeClass::NotFound),
        (405, CodeClass::Request),
        (415, CodeClass::Request),
        (422, CodeClass::Statement),
    ] {
        let mock = Mock::start(vec![Reply::Json(status, json!({"message": "no"}))]).await;
        let error = mock
            .client(Credential::oauth(SecretString::from("oauth-token")))
            .execute(&Statement::new("SELECT 1"))
            .await
            .unwrap_err();
        assert_eq!(error.api().unwrap().status, status);
        assert_eq!(error.api().unwrap().class(), class, "{status}");
        assert_eq!(error.retries(), 0);
        let seen = mock.seen();
        assert_eq!(seen.len(), 1, "{status} is not retried");
        assert_eq!(
            seen[0].header("x-snowflake-authorization-token-type"),
            Some("OAUTH")
        );
    }
}

#[tokio::test]
async fn protocols_2_7_polling_then_gzip_partitions() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(br#"{"data":[["2"],["3"]]}"#).unwrap();
    let partition = gz.finish().unwrap();
    let mock = Mock::start(vec![
        Reply::Json(
            202,
            json!({"code": "333334", "statementHandle": "h-1", "message": "running"}),
        ),
        Reply::Json(202, json!({"code": "333334", "statementHandle": "h-1"})),
        Reply::Json(429, json!({"code": "390505"})),
        Reply::Json(200, {
            let mut b = ok_body(
                "h-1",
                json!([["1"]]),
                json!([{"rowCount": 1}, {"rowCount": 2}]),
            );
            b["resultSetMetaData"]["numRows"] = json!(3);
            b
        }),
        Reply::Headers(
            200,
            "application/json",
            partition,
            vec![("Content-Encoding", "gzip".into())],
        ),
    ])
    .await;
    let result = mock
        .client(pat())
        .execute(&Statement::new("SELECT N"))
        .await
        .unwrap();
    let values: Vec<i64> = result.rows().iter().map(|r| r.get("N").unwrap()).collect();
    assert_eq!(values, [1, 2, 3]);
    let seen = mock.seen();
    assert_eq!(seen.len(), 5);
    assert!(seen[1].target.starts_with("/api/v2/statements/h-1"));
    assert_eq!(seen[1].method, "GET");
    assert_eq!(seen[4].query("partition"), Some("1"));
    assert!(seen[4]
        .header("accept-encoding")
        .unwrap_or_default()
        .contains("gzip"));
}

#[tokio::test]
async fn protocols_2_5_malformed_answers_are_decode_errors() {
    let mock = Mock::start(vec![
        Reply::Headers(
            200,
            "text/html",
            b"<html>captive portal</html>".to_vec(),
            vec![],
        ),
        Reply::Json(
            200,
            json!({"data": [["1"]], "statementHandle": "h",
            "resultSetMetaData": {"rowType": [{"name": "A", "type": "text"}], "numRows": 5}}),
        ),
        Reply::Json(
            200,
            json!({"data": [["1"]],
            "resultSetMetaData": {"rowType": [{"name": "A", "type": "text"}]}}),
        ),
    ])
    .await;
    let client = mock.client(pat());
    for _ in 0..3 {
        let error = client
            .execute(&Statement::new("SELECT 1"))
            .await
            .unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::Decode(_)), "{error}");
    }
    // A handle with characters that do not belong in a URL path is refused before sending.
    let error = client.fetch("../../admin").await.unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Decode(_)));
    assert_eq!(mock.seen().len(), 3);
}

#[tokio::test]
async fn protocols_2_6_multi_statement_request_shape() {
    let mock = Mock::start(vec![
        Reply::Json(200, json!({
            "resultSetMetaData": {"rowType": [{"name": "multiple statement execution", "type": "text"}]},
            "data": [["Multiple statements executed successfully."]],
            "statementHandle": "parent", "statementHandles": ["c1", "c2"]})),
        Reply::Json(200, ok_body("c1", json!([["1"]]), json!([{"rowCount": 1}]))),
        Reply::Json(202, json!({"code": "333334", "statementHandle": "c2"})),
        Reply::Json(200, ok_body("c2", json!([["2"]]), json!([{"rowCount": 1}]))),
    ])
    .await;
    let results = mock
        .client(pat())
        .execute_multi(&Statement::multi(["SELECT 1;", "SELECT 2"]).role("R"))
        .await
        .unwrap();
    let values: Vec<i64> = results
        .iter()
        .map(|r| r.rows()[0].get("n").unwrap())
        .collect();
    assert_eq!(values, [1, 2]);
    let seen = mock.seen();
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["statement"], "SELECT 1;\nSELECT 2");
    assert_eq!(body["parameters"]["MULTI_STATEMENT_COUNT"], "2");
    assert_eq!(body["role"], "R");
    assert_eq!(
        seen[1].target.split('?').next(),
        Some("/api/v2/statements/c1")
    );
    assert_eq!(
        seen[3].target.split('?').next(),
        Some("/api/v2/statements/c2")
    );
}

/// protocols §2.8: a journal records the `requestId` before sending; a resubmission after a crash
/// sends that same id with `retry=true` on its first attempt.
#[tokio::test]
async fn protocols_2_8_caller_supplied_request_id_and_resubmission() {
    let mock = Mock::start(vec![
        Reply::Json(200, ok_body("h1", json!([["1"]]), json!([{"rowCount": 1}]))),
        Reply::Json(200, ok_body("h2", json!([["2"]]), json!([{"rowCount": 1}]))),
    ])
    .await;
    let client = mock.client(pat());
    let id = uuid::Uuid::new_v4();
    let first = Statement::new("SELECT 1").request_id(id);
    assert_eq!(first.fixed_request_id(), Some(id));
    client.execute(&first).await.unwrap();
    client
        .execute(&Statement::new("SELECT 1").request_id(id).resubmission())
        .await
        .unwrap();
    let seen = mock.seen();
    assert_eq!(seen.len(), 2);
    let expected = id.to_string();
    assert_eq!(seen[0].query("requestId"), Some(expected.as_str()));
    assert_eq!(seen[0].query("retry"), None);
    assert_eq!(seen[1].query("requestId"), Some(expected.as_str()));
    assert_eq!(seen[1].query("retry"), Some("true"));
}
