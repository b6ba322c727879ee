//! Dates and times for workflows: parse (a given format or automatic), format (strftime or
//! Luxon tokens, as n8n expressions use), add/subtract, difference, rounding and time zones.
//!
//! Every instant is carried as a UTC instant plus the IANA zone it is shown in, so adding a day
//! across a daylight-saving change keeps the wall-clock time, as users expect.

use chrono::format::{Item, StrftimeItems};
use chrono::{
    DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike,
    Utc,
};
use chrono_tz::Tz;
use serde_json::Value;

use super::{DataError, Result};

fn invalid(field: &str, message: impl Into<String>) -> DataError {
    DataError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// An IANA zone (`Europe/Oslo`) or `UTC`.
pub fn zone(name: &str, field: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        invalid(
            field,
            format!("`{name}` is not an IANA time zone such as Europe/Oslo"),
        )
    })
}

/// Wall-clock time in `zone`; a time skipped by a DST change moves forward past the gap and an
/// ambiguous one takes the earlier instant.
fn localize(naive: NaiveDateTime, zone: Tz) -> DateTime<Tz> {
    match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t,
        chrono::LocalResult::Ambiguous(earlier, _) => earlier,
        chrono::LocalResult::None => localize(naive + Duration::hours(1), zone),
    }
}

/// Reads `value`: a number is Unix time (seconds, or milliseconds when over 10^11); text is read
/// with `format` (strftime or Luxon tokens) or, without one, as ISO 8601 / RFC 3339, RFC 2822,
/// `YYYY-MM-DD[ HH:MM[:SS]]` or `DD.MM.YYYY`. Times without an offset are in `zone`.
pub fn parse(value: &Value, format: Option<&str>, zone: Tz) -> Result<DateTime<Tz>> {
    let text = match value {
        Value::Number(n) => {
            let n = n
                .as_f64()
                .ok_or_else(|| invalid("value", "is not a finite number"))?;
            let millis = if n.abs() > 1e11 { n } else { n * 1000.0 };
            return DateTime::<Utc>::from_timestamp_millis(millis as i64)
                .map(|t| t.with_timezone(&zone))
                .ok_or_else(|| invalid("value", "is out of range"));
        }
        Value::String(s) => s.trim(),
        _ => return Err(invalid("value", "must be text or a Unix time")),
    };
    if let Some(format) = format {
        let pattern = strftime_of(format);
        return parse_with(text, &pattern, zone).ok_or_else(|| {
            invalid(
                "value",
                format!("`{text}` does not match the format `{format}`"),
            )
        });
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&zone));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(text) {
        return Ok(t.with_timezone(&zone));
    }
    for pattern in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
        "%Y%m%dT%H%M%SZ",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%d.%m.%Y",
    ] {
        if let Some(t) = parse_with(text, pattern, zone) {
            return Ok(t);
        }
    }
    Err(invalid(
        "value",
        format!("`{text}` is not a date this service recognizes; give `format`"),
    ))
}

/// Parses with one strftime pattern: with an offset, a date and time, or a date alone.
fn parse_with(text: &str, pattern: &str, zone: Tz) -> Option<DateTime<Tz>> {
    if let Ok(t) = DateTime::parse_from_str(text, pattern) {
        return Some(t.with_timezone(&zone));
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, pattern) {
        // A literal `Z` in the pattern means UTC; otherwise the time is local to `zone`.
        return Some(if pattern.ends_with('Z') {
            Utc.from_utc_datetime(&naive).with_timezone(&zone)
        } else {
            localize(naive, zone)
        });
    }
    NaiveDate::parse_from_str(text, pattern)
        .ok()
        .map(|date| localize(date.and_time(NaiveTime::MIN), zone))
}

/// Luxon tokens (`yyyy-LL-dd HH:mm`) as a strftime pattern; a pattern with `%` is strftime
/// already. Text in single quotes is literal.
pub fn strftime_of(format: &str) -> String {
    if format.contains('%') {
        return format.to_owned();
    }
    // Longest tokens first, so `MMMM` is not read as `MM` twice.
    const TOKENS: [(&str, &str); 40] = [
        ("yyyy", "%Y"),
        ("kkkk", "%G"),
        ("MMMM", "%B"),
        ("LLLL", "%B"),
        ("EEEE", "%A"),
        ("cccc", "%A"),
        ("MMM", "%b"),
        ("LLL", "%b"),
        ("EEE", "%a"),
        ("ccc", "%a"),
        ("SSS", "%3f"),
        ("ZZZ", "%z"),
        ("ooo", "%j"),
        ("yy", "%y"),
        ("kk", "%g"),
        ("MM", "%m"),
        ("LL", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("hh", "%I"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("WW", "%V"),
        ("ZZ", "%:z"),
        ("y", "%Y"),
        ("M", "%-m"),
        ("L", "%-m"),
        ("d", "%-d"),
        ("H", "%-H"),
        ("h", "%-I"),
        ("m", "%-M"),
        ("s", "%-S"),
        ("S", "%3f"),
        ("a", "%p"),
        ("W", "%-V"),
        ("Z", "%:z"),
        ("z", "%Z"),
        ("o", "%j"),
        ("X", "%s"),
        ("E", "%u"),
    ];
    let mut out = String::new();
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            let literal_end = rest[1..].find('\'').map_or(rest.len(), |i| i + 1);
            let literal = &rest[1..literal_end];
            if literal.is_empty() && literal_end < rest.len() {
                out.push('\'');
            }
            out.push_str(&literal.replace('%', "%%"));
            rest = rest.get(literal_end + 1..).unwrap_or("");
            continue;
        }
        match TOKENS.iter().find(|(token, _)| rest.starts_with(token)) {
            Some((token, pattern)) => {
                out.push_str(pattern);
                rest = &rest[token.len()..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// `time` written with `format` (strftime or Luxon tokens); ISO 8601 without one.
pub fn format(time: &DateTime<Tz>, format: Option<&str>) -> Result<String> {
    let Some(format) = format else {
        return Ok(iso(time));
    };
    let pattern = strftime_of(format);
    let items: Vec<Item<'_>> = StrftimeItems::new(&pattern)
        .parse()
        .map_err(|_| invalid("format", format!("`{format}` has an unknown % directive")))?;
    let mut out = String::new();
    std::fmt::write(
        &mut out,
        format_args!("{}", time.format_with_items(items.iter())),
    )
    .map_err(|_| {
        invalid(
            "format",
            format!("`{format}` cannot be written for this date"),
        )
    })?;
    Ok(out)
}

/// ISO 8601 with the zone's offset and milliseconds only when there are any.
pub fn iso(time: &DateTime<Tz>) -> String {
    let pattern = if time.timestamp_subsec_millis() == 0 {
        "%Y-%m-%dT%H:%M:%S%:z"
    } else {
        "%Y-%m-%dT%H:%M:%S%.3f%:z"
    };
    time.format(pattern).to_string()
}

/// A calendar or clock unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Years,
    Quarters,
    Months,
    Weeks,
    Days,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
}

/// `time` moved by `amount` units (negative to subtract). Calendar units keep the wall-clock
/// time in the zone; months clamp to the month's last day (Jan 31 + 1 month = Feb 28/29).
pub fn add(time: &DateTime<Tz>, amount: i64, unit: Unit) -> Result<DateTime<Tz>> {
    let out_of_range = || invalid("amount", "moves the date out of range");
    let zone = time.timezone();
    let months = |n: i64| -> Result<DateTime<Tz>> {
        let local = time.naive_local();
        let moved = if n >= 0 {
            local.checked_add_months(Months::new(u32::try_from(n).map_err(|_| out_of_range())?))
        } else {
            local.checked_sub_months(Months::new(u32::try_from(-n).map_err(|_| out_of_range())?))
        };
        moved.map(|t| localize(t, zone)).ok_or_else(out_of_range)
    };
    let days = |n: i64| -> Result<DateTime<Tz>> {
        let local = time.naive_local();
        local
            .checked_add_signed(Duration::try_days(n).ok_or_else(out_of_range)?)
            .map(|t| localize(t, zone))
            .ok_or_else(out_of_range)
    };
    let exact = |d: Option<Duration>| -> Result<DateTime<Tz>> {
        time.checked_add_signed(d.ok_or_else(out_of_range)?)
            .ok_or_else(out_of_range)
    };
    match unit {
        Unit::Years => months(amount.checked_mul(12).ok_or_else(out_of_range)?),
        Unit::Quarters => months(amount.checked_mul(3).ok_or_else(out_of_range)?),
        Unit::Months => months(amount),
        Unit::Weeks => days(amount.checked_mul(7).ok_or_else(out_of_range)?),
        Unit::Days => days(amount),
        Unit::Hours => exact(Duration::try_hours(amount)),
        Unit::Minutes => exact(Duration::try_minutes(amount)),
        Unit::Seconds => exact(Duration::try_seconds(amount)),
        Unit::Milliseconds => exact(Duration::try_milliseconds(amount)),
    }
}

/// `to - from` in `unit`: whole calendar units for years to months (as Luxon's `diff` does, with
/// the fraction of the next unit), exact durations below.
pub fn diff(from: &DateTime<Tz>, to: &DateTime<Tz>, unit: Unit) -> f64 {
    let millis = (to.timestamp_millis() - from.timestamp_millis()) as f64;
    match unit {
        Unit::Years | Unit::Quarters | Unit::Months => {
            let per = match unit {
                Unit::Years => 12,
                Unit::Quarters => 3,
                _ => 1,
            };
            let to_local = to.with_timezone(&from.timezone());
            let (a, b) = (from.naive_local(), to_local.naive_local());
            let mut months =
                i64::from(b.year() - a.year()) * 12 + i64::from(b.month()) - i64::from(a.month());
            // Back off a month when the day/time has not been reached yet.
            let anchor = |n: i64| add(from, n, Unit::Months).map(|t| t.naive_local());
            while months > 0 && anchor(months).is_ok_and(|t| t > b) {
                months -= 1;
            }
            while months < 0 && anchor(months).is_ok_and(|t| t < b) {
                months += 1;
            }
            let base = anchor(months).unwrap_or(a);
            let next = anchor(months + months.signum().max(1)).unwrap_or(base);
            let span = (next - base).num_milliseconds() as f64;
            let fraction = if span == 0.0 {
                0.0
            } else {
                (b - base).num_milliseconds() as f64 / span
            };
            (months as f64 + fraction) / f64::from(per)
        }
        Unit::Weeks => millis / 604_800_000.0,
        Unit::Days => millis / 86_400_000.0,
        Unit::Hours => millis / 3_600_000.0,
        Unit::Minutes => millis / 60_000.0,
        Unit::Seconds => millis / 1000.0,
        Unit::Milliseconds => millis,
    }
}

/// How [`round`] rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Start of the unit (Luxon's `startOf`).
    Floor,
    /// Start of the next unit, unless already at a start.
    Ceil,
    /// The nearer of the two.
    Nearest,
}

/// `time` rounded to a unit in its zone (weeks start on Monday, ISO 8601).
pub fn round(time: &DateTime<Tz>, unit: Unit, rounding: Rounding) -> Result<DateTime<Tz>> {
    let local = time.naive_local();
    let date = local.date();
    let midnight = NaiveTime::MIN;
    let floor_local = match unit {
        Unit::Years => date.with_ordinal(1).map(|d| d.and_time(midnight)),
        Unit::Quarters => NaiveDate::from_ymd_opt(date.year(), (date.month0() / 3) * 3 + 1, 1)
            .map(|d| d.and_time(midnight)),
        Unit::Months => date.with_day(1).map(|d| d.and_time(midnight)),
        Unit::Weeks => Some(
            (date - Duration::days(i64::from(date.weekday().num_days_from_monday())))
                .and_time(midnight),
        ),
        Unit::Days => Some(date.and_time(midnight)),
        Unit::Hours => local
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0)),
        Unit::Minutes => local.with_second(0).and_then(|t| t.with_nanosecond(0)),
        Unit::Seconds => local.with_nanosecond(0),
        Unit::Milliseconds => local.with_nanosecond(local.nanosecond() / 1_000_000 * 1_000_000),
    }
    .ok_or_else(|| invalid("value", "cannot be rounded"))?;
    let floor = localize(floor_local, time.timezone());
    if rounding == Rounding::Floor || floor == *time {
        return Ok(floor);
    }
    let ceil = add(&floor, 1, unit)?;
    Ok(match rounding {
        Rounding::Ceil => ceil,
        _ if *time - floor < ceil - *time => floor,
        _ => ceil,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oslo() -> Tz {
        zone("Europe/Oslo", "timezone").unwrap()
    }

    fn at(text: &str) -> DateTime<Tz> {
        parse(&json!(text), None, oslo()).unwrap()
    }

    #[test]
    fn parses_common_shapes_and_unix_times() {
        let utc = zone("UTC", "timezone").unwrap();
        for (input, expected) in [
            (json!("2024-03-05T14:30:00Z"), "2024-03-05T14:30:00+00:00"),
            (
                json!("2024-03-05T14:30:00.250+02:00"),
                "2024-03-05T12:30:00.250+00:00",
            ),
            (
                json!("Tue, 5 Mar 2024 14:30:00 +0100"),
                "2024-03-05T13:30:00+00:00",
            ),
            (json!("2024-03-05 14:30"), "2024-03-05T14:30:00+00:00"),
            (json!("2024-03-05"), "2024-03-05T00:00:00+00:00"),
            (json!("05.03.2024"), "2024-03-05T00:00:00+00:00"),
            (json!(1_709_649_000), "2024-03-05T14:30:00+00:00"),
            (
                json!(1_709_649_000_250_i64),
                "2024-03-05T14:30:00.250+00:00",
            ),
        ] {
            assert_eq!(iso(&parse(&input, None, utc).unwrap()), expected, "{input}");
        }
        // Local times are in the zone given.
        assert_eq!(iso(&at("2024-07-01 09:00")), "2024-07-01T09:00:00+02:00");
        let custom = parse(&json!("03/05/24 2:30 PM"), Some("MM/dd/yy h:mm a"), utc).unwrap();
        assert_eq!(iso(&custom), "2024-03-05T14:30:00+00:00");
        assert!(parse(&json!("yesterday-ish"), None, utc).is_err());
        assert!(parse(&json!("2024-13-01"), Some("yyyy-MM-dd"), utc).is_err());
    }

    #[test]
    fn formats_with_luxon_tokens_and_strftime() {
        let t = at("2024-03-05T14:07:09.045+01:00");
        assert_eq!(
            format(&t, Some("yyyy-LL-dd HH:mm:ss.SSS")).unwrap(),
            "2024-03-05 14:07:09.045"
        );
        assert_eq!(
            format(&t, Some("EEEE d MMMM yyyy, h:mm a")).unwrap(),
            "Tuesday 5 March 2024, 2:07 PM"
        );
        assert_eq!(
            format(&t, Some("'week' W 'of' kkkk, ZZ z")).unwrap(),
            "week 10 of 2024, +01:00 CET"
        );
        assert_eq!(format(&t, Some("%d/%m/%Y")).unwrap(), "05/03/2024");
        assert!(format(&t, Some("%Q")).is_err());
    }

    #[test]
    fn calendar_arithmetic_keeps_wall_clock_time() {
        // Oslo moves to summer time on 2024-03-31: a day later is still 09:00.
        let before = at("2024-03-30T09:00:00+01:00");
        assert_eq!(
            iso(&add(&before, 1, Unit::Days).unwrap()),
            "2024-03-31T09:00:00+02:00"
        );
        assert_eq!(
            iso(&add(&before, 24, Unit::Hours).unwrap()),
            "2024-03-31T10:00:00+02:00"
        );
        let end_of_january = at("2024-01-31T12:00:00+01:00");
        assert_eq!(
            iso(&add(&end_of_january, 1, Unit::Months).unwrap()),
            "2024-02-29T12:00:00+01:00"
        );
        assert_eq!(
            iso(&add(&end_of_january, -2, Unit::Years).unwrap()),
            "2022-01-31T12:00:00+01:00"
        );
        assert!(add(&end_of_january, i64::MAX, Unit::Years).is_err());
    }

    #[test]
    fn differences_in_units() {
        let a = at("2024-01-15T00:00:00+01:00");
        let b = at("2024-03-15T12:00:00+01:00");
        assert_eq!(diff(&a, &b, Unit::Days), 60.5);
        assert_eq!(diff(&a, &b, Unit::Hours), 1452.0);
        assert_eq!(
            diff(&a, &at("2024-03-15T00:00:00+01:00"), Unit::Months),
            2.0
        );
        assert!((diff(&a, &b, Unit::Months) - (2.0 + 12.0 / (31.0 * 24.0))).abs() < 1e-9);
        assert_eq!(diff(&b, &a, Unit::Days), -60.5);
        assert_eq!(diff(&a, &at("2025-01-15T00:00:00+01:00"), Unit::Years), 1.0);
    }

    #[test]
    fn rounding_to_units() {
        let t = at("2024-05-15T14:37:50+02:00");
        let floor = |unit| iso(&round(&t, unit, Rounding::Floor).unwrap());
        assert_eq!(floor(Unit::Years), "2024-01-01T00:00:00+01:00");
        assert_eq!(floor(Unit::Quarters), "2024-04-01T00:00:00+02:00");
        assert_eq!(floor(Unit::Weeks), "2024-05-13T00:00:00+02:00");
        assert_eq!(floor(Unit::Hours), "2024-05-15T14:00:00+02:00");
        assert_eq!(
            iso(&round(&t, Unit::Hours, Rounding::Nearest).unwrap()),
            "2024-05-15T15:00:00+02:00"
        );
        assert_eq!(
            iso(&round(&t, Unit::Days, Rounding::Ceil).unwrap()),
            "2024-05-16T00:00:00+02:00"
        );
        assert_eq!(
            iso(&round(&t, Unit::Minutes, Rounding::Nearest).unwrap()),
            "2024-05-15T14:38:00+02:00"
        );
    }

    #[test]
    fn time_zones() {
        let t = at("2024-07-01T09:00:00+02:00");
        let tokyo = t.with_timezone(&zone("Asia/Tokyo", "timezone").unwrap());
        assert_eq!(iso(&tokyo), "2024-07-01T16:00:00+09:00");
        assert!(
            matches!(zone("Mars/Olympus", "timezone"), Err(DataError::Invalid { field, .. }) if field == "timezone")
        );
    }
}
