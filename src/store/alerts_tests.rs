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
