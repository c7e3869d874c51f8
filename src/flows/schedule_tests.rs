//! The schedule rules, windows and due windows.

use super::*;

const NOW: i64 = 1_800_000_000;

fn parse(params: Value, delta: bool) -> Result<Schedule, ScheduleError> {
    Schedule::parse(&params, delta, NOW, 60)
}

fn code(params: Value, delta: bool) -> &'static str {
    parse(params, delta).unwrap_err().code
}

#[test]
fn each_rule_has_its_code() {
    assert_eq!(
        code(json!({"startTime": NOW - 3600, "frequency": "once"}), false),
        "1360"
    );
    assert_eq!(
        code(json!({"startTime": NOW, "frequency": "once", "interval": "15"}), false),
        "1361"
    );
    assert_eq!(
        code(json!({"startTime": NOW, "frequency": "minute", "interval": "14"}), true),
        "1362"
    );
    assert_eq!(code(json!({"startTime": NOW, "frequency": "hour"}), true), "1362");
    assert_eq!(
        code(json!({"startTime": NOW, "frequency": "hour", "interval": 0}), true),
        "1362"
    );
    assert_eq!(
        code(json!({"startTime": NOW, "frequency": "monthly", "interval": 1}), true),
        "1363"
    );
    assert_eq!(
        code(
            json!({"startTime": NOW, "frequency": "once", "backfill": "true"}),
            false
        ),
        "1364"
    );
    assert_eq!(code(json!({"frequency": "once"}), false), "1365");
    assert_eq!(code(json!({"startTime": NOW, "frequency": "once"}), true), "1369");
    assert_eq!(
        code(
            json!({"startTime": NOW, "frequency": "day", "interval": 1, "backfill": "maybe"}),
            true
        ),
        "1367"
    );
}

#[test]
fn strings_are_accepted_for_numbers_and_booleans() {
    let schedule = parse(
        json!({"startTime": NOW.to_string(), "frequency": "Minute", "interval": "15", "backfill": "true"}),
        true,
    )
    .unwrap();
    assert_eq!(
        schedule,
        Schedule {
            start: NOW,
            frequency: Frequency::Minute,
            interval: 15,
            backfill: true
        }
    );
    assert_eq!(schedule.to_json()["interval"], "15");
    assert!(
        parse(json!({"startTime": NOW - 30, "frequency": "once"}), false).is_ok(),
        "within the grace"
    );
}

#[test]
fn windows_tile_time_without_gaps_or_overlaps() {
    let plain = parse(json!({"startTime": NOW, "frequency": "minute", "interval": 15}), true).unwrap();
    assert_eq!(
        plain.window(1),
        Window {
            number: 1,
            start: Some(NOW),
            end: Some(NOW + 900)
        }
    );
    assert_eq!(plain.window(2).start, plain.window(1).end);
    let backfill = parse(
        json!({"startTime": NOW, "frequency": "hour", "interval": 1, "backfill": true}),
        true,
    )
    .unwrap();
    assert_eq!(
        backfill.window(1),
        Window {
            number: 1,
            start: None,
            end: Some(NOW)
        }
    );
    assert_eq!(
        backfill.window(2),
        Window {
            number: 2,
            start: Some(NOW),
            end: Some(NOW + 3600)
        }
    );
    assert_eq!(backfill.window(3).start, backfill.window(2).end);
}

#[test]
fn due_windows_follow_the_clock_and_the_settle_lag() {
    let schedule = parse(
        json!({"startTime": NOW, "frequency": "hour", "interval": 1, "backfill": true}),
        true,
    )
    .unwrap();
    assert!(schedule.due_windows(None, NOW - 1, 0, 100).is_empty());
    assert_eq!(schedule.due_windows(None, NOW, 0, 100).len(), 1);
    assert!(
        schedule.due_windows(None, NOW, 10, 100).is_empty(),
        "the lag delays the run"
    );
    let first = schedule.window(1);
    let due: Vec<i64> = schedule
        .due_windows(Some(first), NOW + 2 * 3600 + 5, 5, 100)
        .iter()
        .map(|w| w.number)
        .collect();
    assert_eq!(due, [2, 3]);
    assert_eq!(
        schedule.due_windows(None, NOW + 500 * 3600, 0, 100).len(),
        100,
        "bounded"
    );
    let once = parse(json!({"startTime": NOW, "frequency": "once"}), false).unwrap();
    assert_eq!(
        once.due_windows(None, NOW, 0, 100),
        vec![Window {
            number: 1,
            start: None,
            end: None
        }]
    );
    assert!(once.due_windows(Some(once.window(1)), NOW + 99, 0, 100).is_empty());
}

#[test]
fn windows_continue_where_the_last_ended_when_the_schedule_changes() {
    let hourly = parse(json!({"startTime": NOW, "frequency": "hour", "interval": 1}), true).unwrap();
    for number in 1..5 {
        assert_eq!(
            hourly.next_window(Some(&hourly.window(number))),
            Some(hourly.window(number + 1))
        );
    }
    // Three hourly windows ran, then the flow became daily: the next window starts
    // where the third ended and ends on the daily grid.
    let daily = parse(json!({"startTime": NOW, "frequency": "day", "interval": 1}), true).unwrap();
    let next = daily.next_window(Some(&hourly.window(3))).unwrap();
    assert_eq!(
        next,
        Window {
            number: 4,
            start: Some(NOW + 3 * 3600),
            end: Some(NOW + 86_400)
        }
    );
    assert_eq!(daily.next_window(Some(&next)).unwrap().start, Some(NOW + 86_400));
    // A start moved later: the gap up to it is one window, then the grid.
    let later = parse(
        json!({"startTime": NOW + 7200, "frequency": "hour", "interval": 1}),
        true,
    )
    .unwrap();
    let bridge = later.next_window(Some(&hourly.window(1))).unwrap();
    assert_eq!((bridge.start, bridge.end), (Some(NOW + 3600), Some(NOW + 7200)));
}
