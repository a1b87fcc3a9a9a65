//! Wire encodings shared by the handlers: SQL API result bodies (protocols §2.5), partitions and
//! `Link` headers (§2.7), error bodies, and the generic REST error body (§1.5).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::state::StoredResult;
use crate::engine::{Cell, Column, ColumnType, ResultSet, SqlError};

/// Emulator partition size (protocols §2.7).
pub(crate) const PARTITION_ROWS: usize = 1000;

pub(crate) fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The TCP peer (never a forwarding header). In-process `oneshot` tests have none: unspecified.
pub(crate) fn peer_of(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// `POST /api/v2/statements` (handles are not secrets, so the real path is kept).
pub(crate) fn endpoint(request: &Request) -> String {
    format!("{} {}", request.method(), request.uri().path())
}

/// The role asked for in `X-Snowflake-Role` (protocols §1.4), trimmed; None when absent,
/// blank or not text.
pub(crate) fn requested_role(request: &Request) -> Option<String> {
    request
        .headers()
        .get("x-snowflake-role")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// `{"code", "message"}` (SQL API 4xx outside statement execution).
pub(crate) fn code_body(code: &str, message: &str) -> Value {
    json!({"code": code, "message": message})
}

/// 400 `390142`.
pub(crate) fn invalid_payload() -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &code_body(
            "390142",
            "Incoming request does not contain a valid payload.",
        ),
    )
}

/// Unknown route.
pub(crate) async fn not_found(request: Request) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"code": null, "message": format!("Not found: {}", request.uri().path())}),
    )
}

/// The 422 body of a failed statement.
pub(crate) fn error_body(error: &SqlError, handle: &str, created_on_ms: i64) -> Value {
    json!({
        "code": error.code,
        "message": error.message,
        "sqlState": error.sql_state,
        "statementHandle": handle,
        "createdOn": created_on_ms,
        "statementStatusUrl": status_url(handle, None),
    })
}

/// `/api/v2/statements/{handle}[?requestId=...]`.
pub(crate) fn status_url(handle: &str, request_id: Option<&str>) -> String {
    match request_id {
        Some(id) => format!("/api/v2/statements/{handle}?requestId={id}"),
        None => format!("/api/v2/statements/{handle}"),
    }
}

/// One `rowType` entry.
pub(crate) fn row_type(column: &Column) -> Value {
    let (length, byte_length, precision, scale) = match column.ty {
        ColumnType::Text | ColumnType::Variant => (
            json!(16_777_216),
            json!(16_777_216),
            Value::Null,
            Value::Null,
        ),
        ColumnType::Fixed { precision, scale } => {
            (Value::Null, Value::Null, json!(precision), json!(scale))
        }
        ColumnType::Boolean => (Value::Null, Value::Null, Value::Null, Value::Null),
        ColumnType::TimestampLtz => (Value::Null, Value::Null, json!(0), json!(9)),
    };
    json!({
        "name": column.name,
        "database": "",
        "schema": "",
        "table": "",
        "type": column.ty.wire_name(),
        "nullable": column.nullable,
        "length": length,
        "byteLength": byte_length,
        "precision": precision,
        "scale": scale,
        "collation": null,
    })
}

/// One cell as the SQL API sends it: a string or `null` (`nullable=false`: the string `"null"`).
pub(crate) fn cell(cell: &Cell, nullable: bool) -> Value {
    match cell {
        Cell::Null if nullable => Value::Null,
        Cell::Null => Value::String("null".into()),
        Cell::Text(text) | Cell::Number(text) => Value::String(text.clone()),
        Cell::Bool(b) => Value::String(if *b { "true" } else { "false" }.into()),
        Cell::Timestamp(at) => Value::String(epoch_seconds(*at)),
    }
}

/// Seconds since the epoch with 9 decimals (`"1616173619.000000000"`).
pub(crate) fn epoch_seconds(at: DateTime<Utc>) -> String {
    let nanos = at
        .timestamp_nanos_opt()
        .map_or_else(|| i128::from(at.timestamp()) * 1_000_000_000, i128::from);
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.unsigned_abs();
    format!("{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000)
}

/// Encodes a result set for storage and paging.
pub(crate) fn stored_result(result: &ResultSet, nullable: bool) -> StoredResult {
    StoredResult {
        row_type: result.columns.iter().map(row_type).collect(),
        rows: result
            .rows
            .iter()
            .map(|row| Value::Array(row.iter().map(|c| cell(c, nullable)).collect()))
            .collect(),
        statement_handles: None,
    }
}

impl StoredResult {
    pub(crate) fn partition_count(&self) -> usize {
        self.rows.len().div_ceil(PARTITION_ROWS).max(1)
    }

    pub(crate) fn partition(&self, index: usize) -> &[Value] {
        let start = (index * PARTITION_ROWS).min(self.rows.len());
        let end = ((index + 1) * PARTITION_ROWS).min(self.rows.len());
        &self.rows[start..end]
    }
}

/// The full 200 ResultSet body with partition 0 inline (protocols §2.5).
pub(crate) fn result_body(
    result: &StoredResult,
    handle: &str,
    request_id: &str,
    created_on_ms: i64,
) -> Value {
    let partition_info: Vec<Value> = (0..result.partition_count())
        .map(|p| {
            let rows = result.partition(p);
            let size = serde_json::to_vec(rows).map_or(0, |b| b.len());
            json!({"rowCount": rows.len(), "uncompressedSize": size})
        })
        .collect();
    let mut body = json!({
        "resultSetMetaData": {
            "numRows": result.rows.len(),
            "format": "jsonv2",
            "partitionInfo": partition_info,
            "rowType": result.row_type,
        },
        "data": result.partition(0),
        "code": "090001",
        "statementStatusUrl": status_url(handle, Some(request_id)),
        "requestId": request_id,
        "sqlState": "00000",
        "statementHandle": handle,
        "message": "Statement executed successfully.",
        "createdOn": created_on_ms,
    });
    if let (Some(handles), Some(map)) = (&result.statement_handles, body.as_object_mut()) {
        map.insert("statementHandles".into(), json!(handles));
    }
    body
}

/// `Link` relations `first`, `prev`, `next`, `last` for partition `current` (protocols §2.7).
pub(crate) fn link_header(handle: &str, request_id: &str, current: usize, count: usize) -> String {
    let url =
        |p: usize| format!("</api/v2/statements/{handle}?requestId={request_id}&partition={p}>");
    let mut links = vec![format!("{}; rel=\"first\"", url(0))];
    if current > 0 {
        links.push(format!("{}; rel=\"prev\"", url(current - 1)));
    }
    if current + 1 < count {
        links.push(format!("{}; rel=\"next\"", url(current + 1)));
    }
    links.push(format!("{}; rel=\"last\"", url(count.saturating_sub(1))));
    links.join(",")
}

/// A 200 answer with an optional `Link` header.
pub(crate) fn ok_with_link(body: &Value, link: Option<&str>) -> Response {
    let mut response = json_response(StatusCode::OK, body);
    if let Some(value) = link.and_then(|l| HeaderValue::from_str(l).ok()) {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

/// `{"data": [...]}`, gzip-compressed, `Content-Encoding: gzip` (protocols §2.7).
pub(crate) fn gzip_partition(rows: &[Value], link: &str) -> Response {
    let plain = serde_json::to_vec(&json!({ "data": rows })).unwrap_or_default();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let compressed = encoder.write_all(&plain).and_then(|()| encoder.finish());
    let mut response = match compressed {
        Ok(bytes) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => json_response(StatusCode::OK, &json!({ "data": rows })),
    };
    if let Ok(value) = HeaderValue::from_str(link) {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

/// The generic REST error body of protocols §1.5, with `X-Snowflake-Request-ID`.
pub(crate) fn rest_error(status: StatusCode, code: Option<&str>, message: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = json_response(
        status,
        &json!({"message": message, "code": code, "error_code": code, "request_id": request_id}),
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert("x-snowflake-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_have_nine_decimals() {
        let at = DateTime::from_timestamp(1_616_173_619, 5).unwrap();
        assert_eq!(epoch_seconds(at), "1616173619.000000005");
    }

    #[test]
    fn link_header_relations() {
        assert_eq!(
            link_header("h", "r", 1, 3),
            "</api/v2/statements/h?requestId=r&partition=0>; rel=\"first\",\
             </api/v2/statements/h?requestId=r&partition=0>; rel=\"prev\",\
             </api/v2/statements/h?requestId=r&partition=2>; rel=\"next\",\
             </api/v2/statements/h?requestId=r&partition=2>; rel=\"last\""
        );
    }
}
