//! View statistics from player heartbeats (pure). A view is one viewer on
//! one day; watch time is what the player says it played since its last
//! heartbeat, never more than the clock allows: a page that claims an hour
//! a minute gets the minute. `catalog::library::views` stores it.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The player sends a heartbeat this often while playing.
pub const HEARTBEAT_SECONDS: u32 = 30;
/// The most one heartbeat can credit.
pub const MAX_CREDIT_SECONDS: u32 = 2 * HEARTBEAT_SECONDS;
/// Allowance for a heartbeat arriving a little late after the last.
const SLACK_SECONDS: i64 = 5;

/// The longest range one statistics request may ask for.
pub const MAX_STATS_DAYS: u64 = 366;
/// Without dates, statistics cover this many days before the last.
const DEFAULT_STATS_DAYS: u64 = 30;

/// The days statistics cover, from what was asked and `now`; `None` when
/// `from` is after `to` or the range is too long. Views are filed under
/// the viewer's school's calendar day, so "today" is the newest calendar
/// day anywhere (UTC+14): a Beijing school's morning is still yesterday in
/// UTC, and its views must not drop out of the default range.
pub fn stats_range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Option<(NaiveDate, NaiveDate)> {
    let to = to.unwrap_or_else(|| (now + TimeDelta::hours(14)).date_naive());
    let from = from.unwrap_or_else(|| {
        to.checked_sub_days(Days::new(DEFAULT_STATS_DAYS))
            .unwrap_or(to)
    });
    let span = (to - from).num_days();
    (span >= 0 && span as u64 <= MAX_STATS_DAYS).then_some((from, to))
}

/// Seconds credited for a heartbeat claiming `claimed` seconds played, the
/// viewer's previous heartbeat that day having come at `last` (`None`: this
/// is the first, which starts the view).
pub fn credited(claimed: u32, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> u32 {
    let claimed = claimed.min(MAX_CREDIT_SECONDS);
    match last {
        None => claimed,
        Some(last) => {
            let elapsed = (now - last).num_seconds().max(0) + SLACK_SECONDS;
            claimed.min(elapsed.min(i64::from(u32::MAX)) as u32)
        }
    }
}

/// What the statistics are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum By {
    #[default]
    Lesson,
    /// The viewer's school.
    School,
    KnowledgePoint,
}

/// One row of the statistics.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StatRow {
    pub id: Option<uuid::Uuid>,
    pub name: String,
    /// Viewer-days.
    pub views: i64,
    /// Different people.
    pub viewers: i64,
    pub watch_seconds: i64,
}

/// The rows as CSV for a spreadsheet: a UTF-8 byte-order mark first, so
/// Excel on a school's Windows PC reads the Chinese names, and names
/// quoted per RFC 4180.
pub fn csv(rows: &[StatRow], headers: [&str; 4]) -> String {
    let quote = |text: &str| {
        // Neutralise formulas (=, +, -, @) a spreadsheet would run.
        let text = if text.starts_with(['=', '+', '-', '@']) {
            format!("'{text}")
        } else {
            text.to_string()
        };
        format!("\"{}\"", text.replace('"', "\"\""))
    };
    let mut out = String::from("\u{feff}");
    out.push_str(&headers.map(quote).join(","));
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&format!(
            "{},{},{},{}\r\n",
            quote(&row.name),
            row.views,
            row.viewers,
            row.watch_seconds
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_764_720_000 + seconds, 0).unwrap()
    }

    #[test]
    fn the_default_range_ends_on_the_newest_calendar_day_anywhere() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // 2026-12-04 19:55 UTC is 03:55 on the 5th in Beijing.
        let evening = Utc.with_ymd_and_hms(2026, 12, 4, 19, 55, 0).unwrap();
        assert_eq!(
            stats_range(None, None, evening),
            Some((day("2026-11-05"), day("2026-12-05")))
        );
        let morning = Utc.with_ymd_and_hms(2026, 12, 4, 1, 0, 0).unwrap();
        assert_eq!(
            stats_range(None, None, morning).unwrap().1,
            day("2026-12-04")
        );
        // What is asked for is kept, and checked.
        let asked = (Some(day("2026-09-01")), Some(day("2026-09-30")));
        assert_eq!(
            stats_range(asked.0, asked.1, evening),
            Some((day("2026-09-01"), day("2026-09-30")))
        );
        assert_eq!(stats_range(asked.1, asked.0, evening), None);
        assert_eq!(
            stats_range(Some(day("2025-01-01")), Some(day("2026-09-30")), evening),
            None
        );
        assert_eq!(
            stats_range(None, Some(day("2026-09-30")), evening)
                .unwrap()
                .0,
            day("2026-08-31")
        );
    }

    #[test]
    fn watch_time_runs_no_faster_than_the_clock() {
        assert_eq!(credited(0, None, at(0)), 0);
        assert_eq!(credited(30, Some(at(0)), at(30)), 30);
        // A heartbeat claiming 60 s ten seconds after the last: 15 s.
        assert_eq!(credited(60, Some(at(0)), at(10)), 15);
        // Nobody gets more than two heartbeats' worth at once.
        assert_eq!(credited(3600, Some(at(0)), at(7200)), MAX_CREDIT_SECONDS);
        assert_eq!(credited(3600, None, at(0)), MAX_CREDIT_SECONDS);
        // A clock that went backwards credits only the slack.
        assert_eq!(credited(30, Some(at(100)), at(0)), 5);
    }

    #[test]
    fn csv_opens_in_a_spreadsheet_with_chinese_names_and_no_formulas() {
        let rows = [
            StatRow {
                id: None,
                name: "认识\"分数\"".into(),
                views: 3,
                viewers: 2,
                watch_seconds: 90,
            },
            StatRow {
                id: None,
                name: "=HYPERLINK(\"x\")".into(),
                views: 1,
                viewers: 1,
                watch_seconds: 0,
            },
        ];
        let text = csv(&rows, ["名称", "观看次数", "观看人数", "观看秒数"]);
        assert_eq!(
            text,
            "\u{feff}\"名称\",\"观看次数\",\"观看人数\",\"观看秒数\"\r\n\"认识\"\"分数\"\"\",3,2,90\r\n\"'=HYPERLINK(\"\"x\"\")\",1,1,0\r\n"
        );
    }
}
