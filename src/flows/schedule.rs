//! Flow schedules (`scheduleParams`) and the windows they cut time into.
//!
//! A periodic flow with start `S` and period `P` has windows `[S + kP, S + (k+1)P)`,
//! k = 0, 1, …; with `backfill`, a first window `[−∞, S)` comes before them so that the
//! history is copied once. Window `n` (from 1) is the `n`-th of that sequence: its number
//! is the Delta `txn` version that makes it land exactly once. A `once` flow has one
//! window, number 1, unbounded.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// How often a flow runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    Once,
    Minute,
    Hour,
    Day,
    Week,
}

impl Frequency {
    fn parse(text: &str) -> Option<Frequency> {
        match text.to_ascii_lowercase().as_str() {
            "once" => Some(Frequency::Once),
            "minute" => Some(Frequency::Minute),
            "hour" => Some(Frequency::Hour),
            "day" => Some(Frequency::Day),
            "week" => Some(Frequency::Week),
            _ => None,
        }
    }

    fn seconds(self) -> i64 {
        match self {
            Frequency::Once => 0,
            Frequency::Minute => 60,
            Frequency::Hour => 3600,
            Frequency::Day => 86_400,
            Frequency::Week => 604_800,
        }
    }

    /// The lowercase name used in `scheduleParams`.
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Once => "once",
            Frequency::Minute => "minute",
            Frequency::Hour => "hour",
            Frequency::Day => "day",
            Frequency::Week => "week",
        }
    }
}

/// A validated schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// First run time, epoch seconds.
    pub start: i64,
    pub frequency: Frequency,
    /// Units of `frequency` per window; 0 for `once`.
    pub interval: i64,
    pub backfill: bool,
}

/// A schedule rule broken, with its Flow Service code (`1360`–`1369`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    pub code: &'static str,
    pub message: String,
}

fn error(code: &'static str, message: impl Into<String>) -> ScheduleError {
    ScheduleError {
        code,
        message: message.into(),
    }
}

/// One window of a flow: rows whose delta value is in `[start, end)` (a bound of `None`
/// is open). `number` counts windows from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub number: i64,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl Schedule {
    /// Reads `scheduleParams`. Numbers and booleans may arrive as strings. `now` and
    /// `has_delta_column` decide the rules that depend on them; `grace` forgives a start
    /// time that a client computed a moment ago.
    pub fn parse(params: &Value, has_delta_column: bool, now: i64, grace: i64) -> Result<Schedule, ScheduleError> {
        let start = integer(&params["startTime"]).ok_or_else(|| {
            error(
                "1365",
                "scheduleParams.startTime is required: epoch seconds, as a number or a string of digits",
            )
        })?;
        if start < now - grace {
            return Err(error(
                "1360",
                format!("scheduleParams.startTime {start} is in the past; the server's time is {now}"),
            ));
        }
        let frequency_text = params["frequency"].as_str().unwrap_or_default();
        let frequency = Frequency::parse(frequency_text).ok_or_else(|| {
            error(
                "1363",
                format!("scheduleParams.frequency `{frequency_text}` is not one of once, minute, hour, day, week"),
            )
        })?;
        let interval = &params["interval"];
        let backfill = &params["backfill"];
        if frequency == Frequency::Once {
            if !interval.is_null() {
                return Err(error("1361", "a `once` flow takes no scheduleParams.interval"));
            }
            if !backfill.is_null() {
                return Err(error("1364", "a `once` flow takes no scheduleParams.backfill"));
            }
            if has_delta_column {
                return Err(error(
                    "1369",
                    "a `once` flow copies the whole table: remove the Copy transformation's deltaColumn",
                ));
            }
            return Ok(Schedule {
                start,
                frequency,
                interval: 0,
                backfill: false,
            });
        }
        let minimum = if frequency == Frequency::Minute { 15 } else { 1 };
        let interval = integer(interval).filter(|i| *i >= minimum).ok_or_else(|| {
            error(
                "1362",
                format!(
                    "scheduleParams.interval is required for `{}` flows: a whole number of at least {minimum}",
                    frequency.as_str()
                ),
            )
        })?;
        let backfill = match backfill {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) if s.eq_ignore_ascii_case("true") => true,
            Value::String(s) if s.eq_ignore_ascii_case("false") => false,
            _ => return Err(error("1367", "scheduleParams.backfill must be true or false")),
        };
        Ok(Schedule {
            start,
            frequency,
            interval,
            backfill,
        })
    }

    /// The schedule as stored and shown (numbers as the platform shows them).
    pub fn to_json(&self) -> Value {
        let mut out = json!({"startTime": self.start.to_string(), "frequency": self.frequency.as_str()});
        if self.frequency != Frequency::Once {
            out["interval"] = json!(self.interval.to_string());
            out["backfill"] = json!(self.backfill.to_string());
        }
        out
    }

    /// Seconds per window; 0 for `once`.
    pub fn period(&self) -> i64 {
        self.frequency.seconds() * self.interval
    }

    /// Window `number` (from 1).
    pub fn window(&self, number: i64) -> Window {
        if self.frequency == Frequency::Once {
            return Window {
                number,
                start: None,
                end: None,
            };
        }
        let period = self.period();
        if self.backfill {
            if number == 1 {
                return Window {
                    number,
                    start: None,
                    end: Some(self.start),
                };
            }
            let k = number - 2;
            return Window {
                number,
                start: Some(self.start + k * period),
                end: Some(self.start + (k + 1) * period),
            };
        }
        let k = number - 1;
        Window {
            number,
            start: Some(self.start + k * period),
            end: Some(self.start + (k + 1) * period),
        }
    }

    /// When window `number` may run: at its end (or at the start time for `once` and the
    /// backfill window), plus the settle lag that lets late-committing rows land.
    pub fn due_at(&self, window: &Window, settle_lag: i64) -> i64 {
        window.end.unwrap_or(self.start) + settle_lag
    }

    /// The window that follows `last` (the flow's latest window with a run; `None` when it
    /// has none): window 1, or the one that starts where `last` ended and ends at the next
    /// boundary of this schedule. So windows tile time without gap or overlap even when the
    /// schedule was changed in between. A `once` flow has no window after its first.
    pub fn next_window(&self, last: Option<&Window>) -> Option<Window> {
        let Some(last) = last else {
            return Some(self.window(1));
        };
        if self.frequency == Frequency::Once {
            return None;
        }
        let number = last.number + 1;
        // An unbounded last window (the flow was a `once` flow before) has no end to
        // continue from: take this schedule's own window of that number.
        let Some(start) = last.end else {
            return Some(self.window(number));
        };
        let end = if start < self.start {
            self.start
        } else {
            let period = self.period();
            self.start + ((start - self.start) / period + 1) * period
        };
        Some(Window {
            number,
            start: Some(start),
            end: Some(end),
        })
    }

    /// The windows due at `now` after `last` (see [`Schedule::next_window`]), at most `limit`.
    pub fn due_windows(&self, last: Option<Window>, now: i64, settle_lag: i64, limit: usize) -> Vec<Window> {
        std::iter::successors(self.next_window(last.as_ref()), |window| self.next_window(Some(window)))
            .take_while(|window| self.due_at(window, settle_lag) <= now)
            .take(limit)
            .collect()
    }
}

/// A whole number given as a JSON number or a string of digits.
pub fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Epoch seconds as an RFC 3339 UTC instant (for run activities).
pub fn instant(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
