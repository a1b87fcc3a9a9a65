//! Result sets, typed so each transport can encode cells its own way (SQL API booleans are
//! `"true"`/`"false"`, the driver's are `"1"`/`"0"`; timestamps are epoch seconds with 9 decimals).

use chrono::{DateTime, Utc};

/// Snowflake column types the emulator produces.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ColumnType {
    Text,
    /// NUMBER with the given precision and scale.
    Fixed {
        precision: u32,
        scale: u32,
    },
    Boolean,
    TimestampLtz,
    Variant,
}

impl ColumnType {
    /// The lower-case name used in `rowType` (`text`, `fixed`, `timestamp_ltz`).
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Fixed { .. } => "fixed",
            Self::Boolean => "boolean",
            Self::TimestampLtz => "timestamp_ltz",
            Self::Variant => "variant",
        }
    }
}

/// One column's metadata.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
}

impl Column {
    pub fn text(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ty: ColumnType::Text,
            nullable: true,
        }
    }
}

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    /// A decimal number as text.
    Number(String),
    Bool(bool),
    Timestamp(DateTime<Utc>),
}

/// Columns and rows of one statement's result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// Whether the statement changed the account (the request log's `executed`, and what
    /// `--state` must persist before answering).
    pub changed: bool,
    /// True when a cell holds a secret (ADD/ROTATE PAT): the server keeps such responses for
    /// `requestId` retries only as protocols §2.8 allows, and never logs them.
    pub carries_secret: bool,
}

impl ResultSet {
    /// DDL success: one `status` column, one row (§5.19).
    pub fn status(text: impl Into<String>) -> Self {
        Self {
            columns: vec![Column {
                name: "status".into(),
                ty: ColumnType::Text,
                nullable: false,
            }],
            rows: vec![vec![Cell::Text(text.into())]],
            changed: true,
            carries_secret: false,
        }
    }
}
