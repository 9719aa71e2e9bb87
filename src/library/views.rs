//! View statistics from player heartbeats (pure). A view is one viewer on
//! one day; watch time is what the player says it played since its last
//! heartbeat, never more than the clock allows: a page that claims an hour
//! a minute gets the minute. `catalog::library::views` stores it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The player sends a heartbeat this often while playing.
pub const HEARTBEAT_SECONDS: u32 = 30;
/// The most one heartbeat can credit.
pub const MAX_CREDIT_SECONDS: u32 = 2 * HEARTBEAT_SECONDS;
/// Allowance for a heartbeat arriving a little late after the last.
const SLACK_SECONDS: i64 = 5;

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
