//! Results of the SQL API (protocols §2.5): metadata, typed rows addressed by column name, and
//! the wire shapes they are decoded from.
//!
//! Cells arrive as strings or `null` whatever the column type. [`Row::get`] converts them through
//! [`FromCell`]; column names are looked up case-insensitively and `rowType` types are compared
//! case-insensitively. `Debug` of a [`ResultSet`] or [`Row`] never shows cell values: a result
//! may hold a freshly minted secret (ADD / ROTATE PAT).

use std::fmt;
use std::sync::Arc;

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::RowError;
use crate::time::ServerTime;

/// One column of `resultSetMetaData.rowType`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    /// Name as sent (`token_secret`, `CURRENT_USER()`).
    pub name: String,
    /// Type as sent (`text`, `FIXED`: compare with [`Column::is_type`]).
    #[serde(rename = "type", default)]
    pub column_type: String,
    /// Whether the column may hold NULL.
    #[serde(default)]
    pub nullable: Option<bool>,
    /// Precision (FIXED).
    #[serde(default)]
    pub precision: Option<i64>,
    /// Scale (FIXED, TIME, TIMESTAMP_*).
    #[serde(default)]
    pub scale: Option<i64>,
    /// Length (TEXT, BINARY).
    #[serde(default)]
    pub length: Option<i64>,
}

impl Column {
    /// Case-insensitive comparison of the `type` (protocols §2.5: lower case in examples, upper
    /// case in field tables).
    #[must_use]
    pub fn is_type(&self, name: &str) -> bool {
        self.column_type.eq_ignore_ascii_case(name)
    }
}

/// DML statistics (`stats`).
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Rows inserted.
    #[serde(default)]
    pub num_rows_inserted: Option<i64>,
    /// Rows updated.
    #[serde(default)]
    pub num_rows_updated: Option<i64>,
    /// Rows deleted.
    #[serde(default)]
    pub num_rows_deleted: Option<i64>,
    /// Duplicates counter (`numDmlDuplicates` on the wire, protocols §2.5).
    #[serde(default, alias = "numDuplicateRowsUpdated")]
    pub num_dml_duplicates: Option<i64>,
}

/// The result of one statement.
#[derive(Clone)]
pub struct ResultSet {
    pub(crate) statement_handle: String,
    pub(crate) request_id: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) sql_state: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) created_on: Option<ServerTime>,
    pub(crate) columns: Arc<Vec<Column>>,
    pub(crate) rows: Vec<Row>,
    pub(crate) stats: Option<Stats>,
    pub(crate) statement_handles: Vec<String>,
}

impl ResultSet {
    /// Snowflake's handle of the statement.
    #[must_use]
    pub fn statement_handle(&self) -> &str {
        &self.statement_handle
    }

    /// The `requestId` echoed by the server, when it sent one.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Snowflake's code (`090001`).
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// SQL state (`00000`).
    #[must_use]
    pub fn sql_state(&self) -> Option<&str> {
        self.sql_state.as_deref()
    }

    /// Snowflake's message.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// When the statement was created, on Snowflake's clock (`createdOn`).
    #[must_use]
    pub fn created_on(&self) -> Option<ServerTime> {
        self.created_on
    }

    /// The columns, in order.
    #[must_use]
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The rows of every partition, in order.
    #[must_use]
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The first row, if any.
    #[must_use]
    pub fn first(&self) -> Option<&Row> {
        self.rows.first()
    }

    /// DML statistics, if sent.
    #[must_use]
    pub fn stats(&self) -> Option<&Stats> {
        self.stats.as_ref()
    }

    /// For a multi-statement submission: the child handles (`statementHandles`), in order.
    #[must_use]
    pub fn statement_handles(&self) -> &[String] {
        &self.statement_handles
    }

    /// Position of a column, compared case-insensitively.
    #[must_use]
    pub fn column_index(&self, name: &str) -> Option<usize> {
        column_index(&self.columns, name)
    }
}

impl fmt::Debug for ResultSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultSet")
            .field("statement_handle", &self.statement_handle)
            .field("request_id", &self.request_id)
            .field("code", &self.code)
            .field("created_on", &self.created_on)
            .field(
                "columns",
                &self.columns.iter().map(|c| &c.name).collect::<Vec<_>>(),
            )
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

fn column_index(columns: &[Column], name: &str) -> Option<usize> {
    columns
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(name))
}

/// One row; cells are read by column name.
#[derive(Clone)]
pub struct Row {
    columns: Arc<Vec<Column>>,
    cells: Vec<Option<String>>,
}

impl Row {
    /// The cell of column `name` (case-insensitive) as `T`.
    pub fn get<T: FromCell>(&self, name: &str) -> Result<T, RowError> {
        let index =
            column_index(&self.columns, name).ok_or_else(|| RowError::NoColumn(name.to_owned()))?;
        let column = self
            .columns
            .get(index)
            .ok_or_else(|| RowError::NoColumn(name.to_owned()))?;
        let cell = self.cells.get(index).and_then(Option::as_deref);
        T::from_cell(column, cell)
    }

    /// The cell at `index` as `T`.
    pub fn get_at<T: FromCell>(&self, index: usize) -> Result<T, RowError> {
        let column = self
            .columns
            .get(index)
            .ok_or_else(|| RowError::NoColumn(format!("#{index}")))?;
        T::from_cell(column, self.cells.get(index).and_then(Option::as_deref))
    }

    /// A secret cell (`token_secret`), moved straight into a [`SecretString`].
    pub fn secret(&self, name: &str) -> Result<SecretString, RowError> {
        self.get::<SecretString>(name)
    }

    /// Number of cells.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the row has no cells.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Row")
            .field("cells", &self.cells.len())
            .finish_non_exhaustive()
    }
}

/// A type a cell can be read as. NULL is an error unless `T` is an `Option`.
pub trait FromCell: Sized {
    /// Converts the cell of `column` (`None`: SQL NULL).
    fn from_cell(column: &Column, cell: Option<&str>) -> Result<Self, RowError>;
}

fn required<'a>(column: &Column, cell: Option<&'a str>) -> Result<&'a str, RowError> {
    cell.ok_or_else(|| RowError::Null(column.name.clone()))
}

fn type_error(column: &Column, wanted: &'static str) -> RowError {
    RowError::Type {
        column: column.name.clone(),
        column_type: column.column_type.clone(),
        wanted,
    }
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(column: &Column, cell: Option<&str>) -> Result<Self, RowError> {
        match cell {
            None => Ok(None),
            Some(_) => T::from_cell(column, cell).map(Some),
        }
    }
}

impl FromCell for String {
    fn from_cell(column: &Column, cell: Option<&str>) -> Result<Self, RowError> {
        required(column, cell).map(str::to_owned)
    }
}

impl FromCell for SecretString {
    fn from_cell(column: &Column, cell: Option<&str>) -> Result<Self, RowError> {
        required(column, cell).map(SecretString::from)
    }
}

macro_rules! numeric_cell {
    ($($t:ty => $name:literal),*) => {$(
        impl FromCell for $t {
            fn from_cell(column: &Column, cell: Option<&str>) -> Result<Self, RowError> {
                required(column, cell)?.trim().parse::<$t>().map_err(|_| type_error(column, $name))
            }
        }
    )*};
}

numeric_cell!(i64 => "i64", i32 => "i32", u64 => "u64", u32 => "u32", f64 => "f64");

impl FromCell for bool {
    fn from_cell(column: &Column, cell: Option<&str>) -> Result<Self, RowError> {
        let text = required(column, cell)?.trim();
        if text.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if text.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            // BOOLEAN is "true"/"false"; FIXED 0/1 is accepted too.
            match text {
                "1" => Ok(true),
                "0" => Ok(false),
                _ => Err(type_error(column, "bool")),
            }
        }
    }
}

impl FromCell for ServerTime {
    fn from_cell(column: &Column, cell: Option<&str>) -> Result<Self, RowError> {
        let text = required(column, cell)?;
        let parsed = if column.is_type("timestamp_tz") {
            ServerTime::parse_timestamp_tz(text).map(|(t, _)| t)
        } else if column.is_type("date") {
            ServerTime::parse_epoch_days(text)
        } else {
            ServerTime::parse_epoch_seconds(text)
        };
        parsed.ok_or_else(|| type_error(column, "a timestamp"))
    }
}

// ---- wire shapes ---------------------------------------------------------------------------

/// A 200/202/4xx body of `POST /api/v2/statements` or `GET /api/v2/statements/{h}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireResponse {
    #[serde(default)]
    pub result_set_meta_data: Option<WireMetaData>,
    #[serde(default)]
    pub data: Option<Vec<Vec<Option<String>>>>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    #[serde(default)]
    pub statement_handle: Option<String>,
    #[serde(default)]
    pub statement_handles: Option<Vec<String>>,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub sql_state: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub created_on: Option<i64>,
    #[serde(default)]
    pub stats: Option<Stats>,
}

/// `resultSetMetaData`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireMetaData {
    #[serde(default)]
    pub num_rows: Option<u64>,
    #[serde(default)]
    pub partition_info: Vec<WirePartition>,
    #[serde(default)]
    pub row_type: Vec<Column>,
}

/// One entry of `partitionInfo`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WirePartition {
    #[serde(default)]
    pub row_count: Option<u64>,
}

/// A later partition: `{"data": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct WirePartitionData {
    #[serde(default)]
    pub data: Vec<Vec<Option<String>>>,
}

/// Codes are strings on the wire; tolerate numbers.
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match value {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(crate::codes::normalize(&n.to_string())),
        _ => None,
    })
}

impl WireResponse {
    /// Builds the result set from a 200 body; later partitions are appended by the caller.
    pub(crate) fn into_result_set(self) -> Result<(ResultSet, WireMetaData), String> {
        let mut meta = self.result_set_meta_data.unwrap_or_default();
        let columns = Arc::new(std::mem::take(&mut meta.row_type));
        let data = self.data.unwrap_or_default();
        let rows = to_rows(&columns, data)?;
        let statement_handle = self
            .statement_handle
            .ok_or_else(|| "a 200 answer without statementHandle".to_owned())?;
        Ok((
            ResultSet {
                statement_handle,
                request_id: self.request_id,
                code: self.code,
                sql_state: self.sql_state,
                message: self.message,
                created_on: self.created_on.and_then(ServerTime::from_epoch_millis),
                columns,
                rows,
                stats: self.stats,
                statement_handles: self.statement_handles.unwrap_or_default(),
            },
            meta,
        ))
    }
}

/// Rows with exactly one cell per column.
pub(crate) fn to_rows(
    columns: &Arc<Vec<Column>>,
    data: Vec<Vec<Option<String>>>,
) -> Result<Vec<Row>, String> {
    data.into_iter()
        .enumerate()
        .map(|(i, cells)| {
            if cells.len() == columns.len() {
                Ok(Row {
                    columns: Arc::clone(columns),
                    cells,
                })
            } else {
                Err(format!(
                    "row {i} has {} cells for {} columns",
                    cells.len(),
                    columns.len()
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    /// The 200 example of protocols §2.5, verbatim apart from the elisions.
    const ADD_PAT_200: &str = r#"{
      "resultSetMetaData": {
        "numRows": 1, "format": "jsonv2",
        "partitionInfo": [{"rowCount": 1, "uncompressedSize": 96}],
        "rowType": [
          {"name": "token_name", "database": "", "schema": "", "table": "", "type": "text", "nullable": false,
           "length": 16777216, "byteLength": 16777216, "precision": null, "scale": null, "collation": null},
          {"name": "token_secret", "database": "", "schema": "", "table": "", "type": "TEXT", "nullable": false,
           "length": 16777216, "byteLength": 16777216, "precision": null, "scale": null, "collation": null}
        ]
      },
      "data": [["DEPLOYMENT_0001_PAT", "sEcReTvAlUe"]],
      "code": "090001",
      "statementStatusUrl": "/api/v2/statements/01b2?requestId=x",
      "requestId": "f8ccd534-7cd5-4c06-b673-f25361e96d7f",
      "sqlState": "00000",
      "statementHandle": "01b2",
      "message": "Statement executed successfully.",
      "createdOn": 1620151693299
    }"#;

    fn decode(body: &str) -> ResultSet {
        let wire: WireResponse = serde_json::from_str(body).unwrap();
        wire.into_result_set().unwrap().0
    }

    #[test]
    fn protocols_2_5_result_set_decodes_to_typed_rows() {
        let rs = decode(ADD_PAT_200);
        assert_eq!(rs.statement_handle(), "01b2");
        assert_eq!(rs.code(), Some("090001"));
        assert_eq!(rs.created_on().unwrap().epoch_millis(), 1_620_151_693_299);
        assert_eq!(rs.len(), 1);
        let row = rs.first().unwrap();
        assert_eq!(
            row.get::<String>("TOKEN_NAME").unwrap(),
            "DEPLOYMENT_0001_PAT"
        );
        assert_eq!(
            row.secret("Token_Secret").unwrap().expose_secret(),
            "sEcReTvAlUe"
        );
        assert!(rs.columns()[1].is_type("text"));
        assert_eq!(
            row.get::<String>("nope"),
            Err(RowError::NoColumn("nope".into()))
        );
        // Debug never shows a cell.
        let debug = format!("{rs:?} {row:?}");
        assert!(!debug.contains("sEcReTvAlUe"), "{debug}");
    }

    #[test]
    fn protocols_2_5_cells_convert_by_type() {
        let body = r#"{"resultSetMetaData":{"rowType":[
            {"name":"n","type":"FIXED"},{"name":"b","type":"boolean"},
            {"name":"t","type":"timestamp_ltz"},{"name":"z","type":"TIMESTAMP_TZ"},
            {"name":"d","type":"date"},{"name":"x","type":"text","nullable":true}]},
          "data":[["42","true","1616173619.000000000","1616173619.000000000 1500","18262",null]],
          "statementHandle":"h"}"#;
        let rs = decode(body);
        let row = rs.first().unwrap();
        assert_eq!(row.get::<i64>("N").unwrap(), 42);
        assert!(row.get::<bool>("b").unwrap());
        assert_eq!(
            row.get::<ServerTime>("t").unwrap().epoch_millis(),
            1_616_173_619_000
        );
        assert_eq!(
            row.get::<ServerTime>("z").unwrap().epoch_millis(),
            1_616_173_619_000
        );
        assert_eq!(
            row.get::<ServerTime>("d").unwrap().to_string(),
            "2020-01-01T00:00:00Z"
        );
        assert_eq!(row.get::<Option<String>>("x").unwrap(), None);
        assert_eq!(row.get::<String>("x"), Err(RowError::Null("x".into())));
        assert!(matches!(row.get::<i64>("b"), Err(RowError::Type { .. })));
        assert_eq!(row.get_at::<i64>(0).unwrap(), 42);
    }

    #[test]
    fn protocols_2_5_ragged_rows_and_missing_handles_are_refused() {
        let ragged = r#"{"resultSetMetaData":{"rowType":[{"name":"a","type":"text"}]},
            "data":[["1","2"]],"statementHandle":"h"}"#;
        let wire: WireResponse = serde_json::from_str(ragged).unwrap();
        assert!(wire.into_result_set().is_err());
        let no_handle = r#"{"data":[]}"#;
        let wire: WireResponse = serde_json::from_str(no_handle).unwrap();
        assert!(wire.into_result_set().is_err());
    }

    #[test]
    fn protocols_2_6_multi_statement_body_carries_child_handles() {
        let body = r#"{"resultSetMetaData":{"rowType":[{"name":"multiple statement execution","type":"text"}]},
            "data":[["Multiple statements executed successfully."]],
            "statementHandle":"parent","statementHandles":["c1","c2"],"code":"090001"}"#;
        let rs = decode(body);
        assert_eq!(rs.statement_handles(), ["c1", "c2"]);
    }

    proptest::proptest! {
        /// Decoding never panics, whatever JSON arrives, and accepted results are rectangular.
        #[test]
        fn decoding_arbitrary_bodies_never_panics(
            names in proptest::collection::vec("[a-zA-Z_()]{0,8}", 0..4),
            rows in proptest::collection::vec(
                proptest::collection::vec(proptest::option::of("[ -~]{0,12}"), 0..5), 0..5),
            handle in proptest::option::of("[a-z0-9-]{0,8}"),
            num_rows in proptest::option::of(0_u64..10),
        ) {
            let body = serde_json::json!({
                "resultSetMetaData": {
                    "numRows": num_rows,
                    "rowType": names.iter().map(|n| serde_json::json!({"name": n, "type": "text"})).collect::<Vec<_>>(),
                },
                "data": rows,
                "statementHandle": handle,
            });
            let bytes = serde_json::to_vec(&body).unwrap();
            if let Ok(wire) = serde_json::from_slice::<WireResponse>(&bytes) {
                if let Ok((rs, _)) = wire.into_result_set() {
                    for row in rs.rows() {
                        proptest::prop_assert_eq!(row.len(), rs.columns().len());
                        for c in rs.columns() {
                            let _ = row.get::<Option<ServerTime>>(&c.name);
                            let _ = row.get::<Option<i64>>(&c.name);
                            let _ = row.get::<Option<bool>>(&c.name);
                        }
                    }
                }
            }
            // Truncated bodies are errors, not panics.
            let cut = bytes.len() / 2;
            proptest::prop_assert!(serde_json::from_slice::<WireResponse>(&bytes[..cut]).is_err() || cut == 0);
        }

        #[test]
        fn time_parsers_never_panic(text in "[-+0-9. ]{0,30}") {
            let _ = ServerTime::parse_epoch_seconds(&text);
            let _ = ServerTime::parse_timestamp_tz(&text);
            let _ = ServerTime::parse_epoch_days(&text);
        }
    }

    #[test]
    fn protocols_2_5_error_bodies_decode_with_numeric_codes() {
        let body = r#"{"code": 3001, "message":"m","sqlState":"42501","statementHandle":"h"}"#;
        let wire: WireResponse = serde_json::from_str(body).unwrap();
        assert_eq!(wire.code.as_deref(), Some("003001"));
        assert_eq!(wire.sql_state.as_deref(), Some("42501"));
    }
}
