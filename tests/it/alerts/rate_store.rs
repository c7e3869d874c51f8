//! The rate windows and the watcher's queries on a real PostgreSQL metadata store, as
//! several processes share it: places taken at once by two stores never exceed the limit.

use inlet::secret::Secret;
use inlet::store::Store;

use crate::common::pg::{PgOptions, PgServer};

#[tokio::test]
async fn two_stores_taking_places_at_once_on_postgresql_never_exceed_the_limit() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("meta");
    let url = Secret::new(pg.admin_url("meta"));
    let a = Store::connect(&url).await.unwrap();
    let b = Store::connect(&url).await.unwrap();
    let now = 1_000_000;
    let mut tries = Vec::new();
    for index in 0..40 {
        let store = if index % 2 == 0 { a.clone() } else { b.clone() };
        tries.push(tokio::spawn(async move {
            store.take_delivery_place("s1", 5, 60_000, now).await
        }));
    }
    let mut taken = 0;
    for attempt in tries {
        match attempt.await.unwrap().expect("a place taken or refused") {
            None => taken += 1,
            Some(until) => assert_eq!(until, now + 60_000, "the window opened by the first place"),
        }
    }
    assert_eq!(taken, 5);
    // The next window takes five more.
    let later = now + 60_000;
    for offset in 0..5 {
        assert_eq!(
            a.take_delivery_place("s1", 5, 60_000, later + offset).await.unwrap(),
            None
        );
    }
    assert!(
        b.take_delivery_place("s1", 5, 60_000, later + 9)
            .await
            .unwrap()
            .is_some()
    );
    // The watcher's queries run on PostgreSQL too.
    assert!(a.late_flows(later, 10).await.unwrap().is_empty());
    assert!(a.overdue_runs("f", later, 10).await.unwrap().is_empty());
    assert!(a.stale_flows(later, 10).await.unwrap().is_empty());
}
