//! The operator's egress policy, at create, test, explore and run time, for addresses and
//! for host names that resolve to them.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::{Trap, basic, retarget, test};
use crate::common::server::{Inlet, Options};
use crate::dataflows::{Lab, status};

const ITEMS: &str = "CREATE TABLE public.items (id bigint PRIMARY KEY, name text);
  INSERT INTO public.items SELECT g, 'item ' || g FROM generate_series(1, 20) g;";

/// The text every refusal of `host` carries.
fn refusal(host: &str) -> String {
    inlet::sources::egress::Refused { host: host.into() }.to_string()
}

#[tokio::test]
async fn a_denied_address_is_refused_at_create_test_explore_and_run_time() {
    let now = chrono::Utc::now().timestamp();
    let lab = Lab::start(now, ITEMS, "egress_deny = [\"127.0.0.2/32\"]\n");
    let api = &lab.api;

    // Create, and a patch that moves a connection there (password given, so only the
    // policy refuses it).
    let reply = api
        .post("/connections", &basic("x", "127.0.0.2", 5432, "u", "p", "Disable"))
        .await;
    assert_eq!(reply.code(), "1001-400", "{}", reply.body);
    assert_eq!(reply.body["report"]["details"][0]["path"], "/auth/params/server");
    assert_eq!(reply.body["report"]["details"][0]["message"], refusal("127.0.0.2"));
    let (source, target, _) = lab.connections("public.items").await;
    let base = api.get(&format!("/sourceConnections/{source}")).await.body["items"][0]["baseConnectionId"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/connections/{base}");
    let etag = api.get(&path).await.body["items"][0]["etag"]
        .as_str()
        .unwrap()
        .to_string();
    let moved = json!([{"op": "replace", "path": "/auth/params/server", "value": "127.0.0.2"},
                       {"op": "replace", "path": "/auth/params/password", "value": "Reader-pw-2f81"}]);
    assert_eq!(api.patch(&path, Some(&etag), &moved).await.code(), "1001-400");
    assert!(test(api, &base).await.0);

    // A connection stored before the policy: test, explore and the run are refused, with
    // the same answer whether or not something listens there.
    let flow = lab
        .flow(
            &source,
            &target,
            json!([]),
            json!({"startTime": (now + 2).to_string(), "frequency": "once"}),
        )
        .await;
    let trap = Trap::bind("127.0.0.2");
    retarget(&lab.inlet, &api.org, &base, "127.0.0.2", trap.port()).await;
    let (ok, code, message) = test(api, &base).await;
    assert_eq!((ok, code.as_str()), (false, "DESTINATION_NOT_ALLOWED"));
    assert_eq!(message, refusal("127.0.0.2"));
    let other = api
        .create_connection(&basic("y", "127.0.0.1", 5432, "u", "p", "Disable"))
        .await;
    retarget(&lab.inlet, &api.org, &other, "127.0.0.2", 1).await;
    assert_eq!(test(api, &other).await, (ok, code.clone(), message.clone()));
    for query in ["objectType=root", "objectType=table&object=public.items&preview=true"] {
        let reply = api.get(&format!("{path}/explore?{query}")).await;
        assert_eq!(reply.code(), "1351-400", "{}", reply.body);
        assert!(reply.message().contains(&message), "{}", reply.message());
    }
    lab.set_clock(now + 2);
    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(90)).await;
    assert_eq!(status(&runs[0]), "failed", "{:#}", runs[0]);
    let error = &runs[0]["metrics"]["statusSummary"]["errors"][0];
    assert_eq!(error["code"], "SOURCE_DESTINATION_NOT_ALLOWED", "{:#}", runs[0]);
    assert!(trap.visits().is_empty(), "a refused destination was connected to");
}

#[tokio::test]
async fn a_host_name_is_judged_by_its_name_and_by_every_address_it_resolves_to() {
    let config = "egress_deny = [\"127.0.0.1/32\", \"*.blocked.example\"]\n";
    let inlet = Inlet::start_with(Options {
        config: Some(config.into()),
        ..Options::default()
    });
    let api = inlet.identity("ORG1@AdobeOrg");
    let trap = Trap::bind("127.0.0.1");
    // A deny name rule refuses without any DNS; a denied address behind a name is found
    // after resolution, at test and explore time.
    let reply = api
        .post(
            "/connections",
            &basic("x", "db.blocked.example", 5432, "u", "p", "Disable"),
        )
        .await;
    assert_eq!(
        reply.body["report"]["details"][0]["message"],
        refusal("db.blocked.example")
    );
    let id = api
        .create_connection(&basic("local", "localhost", trap.port(), "u", "p", "Disable"))
        .await;
    let (ok, code, message) = test(&api, &id).await;
    assert_eq!(
        (ok, code.as_str(), message),
        (false, "DESTINATION_NOT_ALLOWED", refusal("localhost"))
    );
    let reply = api.get(&format!("/connections/{id}/explore?objectType=root")).await;
    assert_eq!(reply.code(), "1351-400", "{}", reply.body);
    // The cloud metadata address is denied by default, by address and in IPv6 forms.
    let mut answers = BTreeSet::new();
    for host in [
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "fe80::1",
        "metadata.google.internal",
    ] {
        let reply = api
            .post("/connections", &basic("m", host, 80, "u", "p", "Disable"))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{host}: {}", reply.body);
        answers.insert(
            reply.body["report"]["details"][0]["message"]
                .as_str()
                .unwrap()
                .replace(host, "HOST"),
        );
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(trap.visits().is_empty());
}
