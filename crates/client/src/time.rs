//! Server time. snowpat never decides anything about Snowflake objects from its own clock
//! (snowflake-behaviour §6.9): it reads `createdOn` (epoch milliseconds, protocols §2.5),
//! `CURRENT_TIMESTAMP()` and timestamps in results (epoch seconds with 9 decimals, protocols §2.5).
//! These helpers parse those encodings into [`ServerTime`].

use std::fmt;

use chrono::{DateTime, Utc};

/// An instant on Snowflake's clock (UTC).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct ServerTime(DateTime<Utc>);

impl ServerTime {
    /// From `createdOn`: epoch milliseconds.
    #[must_use]
    pub fn from_epoch_millis(ms: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(ms).map(Self)
    }

    /// From a result cell of type TIMESTAMP_LTZ / TIMESTAMP_NTZ / TIME: seconds since the epoch
    /// with up to 9 decimals (`"1616173619.000000000"`, `"-1.5"`).
    #[must_use]
    pub fn parse_epoch_seconds(text: &str) -> Option<Self> {
        let (seconds, nanos) = parse_decimal_seconds(text.trim())?;
        DateTime::from_timestamp(seconds, nanos).map(Self)
    }

    /// From a TIMESTAMP_TZ cell: `"<seconds.9> <offset+1440>"` (the offset in minutes plus
    /// 1440). Returns the instant and the offset in minutes.
    #[must_use]
    pub fn parse_timestamp_tz(text: &str) -> Option<(Self, i32)> {
        let mut parts = text.split_whitespace();
        let instant = Self::parse_epoch_seconds(parts.next()?)?;
        let offset = match parts.next() {
            Some(o) => o.parse::<i32>().ok()?.checked_sub(1440)?,
            None => 0,
        };
        if parts.next().is_some() || !(-1440..=1440).contains(&offset) {
            return None;
        }
        Some((instant, offset))
    }

    /// From a DATE cell: days since the epoch (`"18262"`).
    #[must_use]
    pub fn parse_epoch_days(text: &str) -> Option<Self> {
        let days: i64 = text.trim().parse().ok()?;
        DateTime::from_timestamp(days.checked_mul(86_400)?, 0).map(Self)
    }

    /// The instant as a chrono value.
    #[must_use]
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Epoch milliseconds.
    #[must_use]
    pub fn epoch_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }
}

impl From<DateTime<Utc>> for ServerTime {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value)
    }
}

impl fmt::Display for ServerTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )
    }
}

/// `"-12.345"` → (-13, 655_000_000): floor seconds and a non-negative nanosecond part.
fn parse_decimal_seconds(text: &str) -> Option<(i64, u32)> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 9
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let nanos: u32 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().ok()?
    };
    if !negative {
        return Some((whole, nanos));
    }
    if nanos == 0 {
        return Some((whole.checked_neg()?, 0));
    }
    Some((whole.checked_neg()?.checked_sub(1)?, 1_000_000_000 - nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_2_5_timestamp_cells_parse_with_nanoseconds() {
        let t = ServerTime::parse_epoch_seconds("1616173619.000000000").unwrap();
        assert_eq!(t.epoch_millis(), 1_616_173_619_000);
        let t = ServerTime::parse_epoch_seconds("1616173619.123456789").unwrap();
        assert_eq!(t.as_datetime().timestamp_subsec_nanos(), 123_456_789);
        let t = ServerTime::parse_epoch_seconds("1616173619.5").unwrap();
        assert_eq!(t.as_datetime().timestamp_subsec_nanos(), 500_000_000);
        let t = ServerTime::parse_epoch_seconds("-1.5").unwrap();
        assert_eq!(t.epoch_millis(), -1500);
        assert_eq!(
            ServerTime::parse_epoch_seconds("7").unwrap().epoch_millis(),
            7000
        );
        for bad in ["", ".5", "1.1234567890", "abc", "1.2.3", "1e9", "- 1"] {
            assert!(ServerTime::parse_epoch_seconds(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn protocols_2_5_created_on_is_epoch_millis() {
        let t = ServerTime::from_epoch_millis(1_620_151_693_299).unwrap();
        assert_eq!(t.to_string(), "2021-05-04T18:08:13.299Z");
    }

    #[test]
    fn protocols_2_5_timestamp_tz_and_date() {
        let (t, offset) = ServerTime::parse_timestamp_tz("1616173619.000000000 1500").unwrap();
        assert_eq!(offset, 60);
        assert_eq!(t.epoch_millis(), 1_616_173_619_000);
        assert!(ServerTime::parse_timestamp_tz("1 9999").is_none());
        assert!(ServerTime::parse_timestamp_tz("1 1440 x").is_none());
        let d = ServerTime::parse_epoch_days("18262").unwrap();
        assert_eq!(d.to_string(), "2020-01-01T00:00:00Z");
    }
}
