//! The outbox on a real SQLite store: fan-out writes each delivery once, a claim is one
//! process's until its lease lapses, an attempt's end is refused to a process that lost
//! the lease, and pruning keeps what is not finished.

use serde_json::json;

use super::*;
use crate::alerts::EventKind;

fn tenant() -> Tenant {
    Tenant {
        org: "o".into(),
        sandbox: "prod".into(),
    }
}

fn event(id: &str, created_at: i64) -> AlertEvent {
    AlertEvent {
        id: id.into(),
        tenant: tenant(),
        kind: EventKind::RunSuccess,
        flow_id: Some("f".into()),
        subscription_id: None,
        created_at,
        payload: json!({"id": id}),
    }
}

fn delivered() -> AttemptEnd {
    AttemptEnd {
        status: DeliveryStatus::Delivered,
        next_at: 0,
        code: Some(204),
        error: None,
    }
}

#[tokio::test]
async fn fan_out_claims_leases_and_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path()).await.unwrap();
    store.insert_alert_event(&event("e1", 1_000)).await.unwrap();
    let pending = store.undispatched_events(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    // Two processes fan the same event out: each delivery is written once.
    let subscriptions = ["s1".to_string(), "s2".to_string()];
    store.dispatch_event(&pending[0], &subscriptions, 1_000).await.unwrap();
    store.dispatch_event(&pending[0], &subscriptions, 1_001).await.unwrap();
    assert!(store.undispatched_events(10).await.unwrap().is_empty());
    assert_eq!(store.list_deliveries(&tenant(), "s1", 10).await.unwrap().len(), 1);

    // A claims both; B finds none until A's lease on one lapses.
    let a1 = store.claim_delivery("a", 2_000, 5_000).await.unwrap().unwrap();
    let a2 = store.claim_delivery("a", 2_000, 5_000).await.unwrap().unwrap();
    assert_ne!(a1.id, a2.id);
    assert_eq!(
        (a1.attempts, a1.event_type.as_str(), a1.payload.as_str()),
        (1, "flow.run.success", r#"{"id":"e1"}"#)
    );
    assert!(store.claim_delivery("b", 3_000, 9_000).await.unwrap().is_none());
    assert!(
        store
            .end_delivery_attempt(&a1.id, "a", &delivered(), 3_000)
            .await
            .unwrap()
    );
    let b = store
        .claim_delivery("b", 6_000, 9_000)
        .await
        .unwrap()
        .expect("a's lapsed lease");
    assert_eq!((b.id.as_str(), b.attempts), (a2.id.as_str(), 2));
    assert!(
        !store
            .end_delivery_attempt(&a2.id, "a", &delivered(), 6_500)
            .await
            .unwrap(),
        "a lost the lease: its end is not recorded"
    );

    // Pruning removes the finished delivery, and keeps the event and its unfinished one.
    assert_eq!(store.prune_alerts(500).await.unwrap(), 0, "nothing older than that");
    assert_eq!(store.list_deliveries(&tenant(), "s1", 10).await.unwrap().len(), 1);
    assert_eq!(store.prune_alerts(10_000).await.unwrap(), 0);
    let subscription = if a1.subscription_id == "s1" { "s1" } else { "s2" };
    let other = if subscription == "s1" { "s2" } else { "s1" };
    assert!(
        store
            .list_deliveries(&tenant(), subscription, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let left = store.list_deliveries(&tenant(), other, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, DeliveryStatus::Delivering);
    assert!(
        store
            .end_delivery_attempt(&b.id, "b", &delivered(), 7_000)
            .await
            .unwrap()
    );
    assert_eq!(store.prune_alerts(10_000).await.unwrap(), 1);
    assert!(store.list_deliveries(&tenant(), other, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_rate_window_takes_its_limit_then_waits_and_a_postponed_claim_is_no_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(dir.path()).await.unwrap();
    let take = |subscription: &'static str, now: i64| {
        let store = store.clone();
        async move { store.take_delivery_place(subscription, 3, 60_000, now).await.unwrap() }
    };
    for now in [10_000, 10_001, 10_002] {
        assert_eq!(take("s1", now).await, None);
    }
    // Full: the fourth waits for the window's end; another subscription has its own.
    assert_eq!(take("s1", 20_000).await, Some(70_000));
    assert_eq!(take("s2", 20_000).await, None);
    // The next window opens with the first delivery after the last one closed.
    for now in [70_000, 70_001, 70_002] {
        assert_eq!(take("s1", now).await, None);
    }
    assert_eq!(take("s1", 70_003).await, Some(130_000));

    // A delivery put back waits until then, and its claim was no attempt.
    store.insert_alert_event(&event("e1", 1_000)).await.unwrap();
    let pending = store.undispatched_events(10).await.unwrap();
    store
        .dispatch_event(&pending[0], &["s1".to_string()], 1_000)
        .await
        .unwrap();
    let claimed = store.claim_delivery("a", 70_003, 90_000).await.unwrap().unwrap();
    assert!(
        !store
            .postpone_delivery(&claimed.id, "b", 130_000, 70_004)
            .await
            .unwrap()
    );
    assert!(
        store
            .postpone_delivery(&claimed.id, "a", 130_000, 70_004)
            .await
            .unwrap()
    );
    assert!(store.claim_delivery("a", 129_999, 200_000).await.unwrap().is_none());
    let again = store.claim_delivery("a", 130_000, 200_000).await.unwrap().unwrap();
    assert_eq!(again.attempts, 1);
    let shown = &store.list_deliveries(&tenant(), "s1", 10).await.unwrap()[0];
    assert_eq!(shown.status, DeliveryStatus::Delivering);

    assert_eq!(store.prune_delivery_rates(69_000).await.unwrap(), 1, "s2's window went");
    assert_eq!(take("s1", 100_000).await, Some(130_000), "s1's stays");
}
