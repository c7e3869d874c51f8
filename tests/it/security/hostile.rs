//! A hostile corpus against one server at debug logging: malformed bodies to every write
//! endpoint, hostile paths and queries, forged tokens, cross-tenant reads and writes of
//! every resource kind, and PATCHes racing on one etag. Nothing may answer 5xx, crash the
//! server, succeed across tenants, lose an update, or show the sentinel password in a
//! response, a log line or a file of the data directory.

use std::collections::BTreeMap;

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use super::basic;
use crate::common::pg::{Auth, PgOptions, PgServer, User};
use crate::common::server::{FLOW, Identity, Inlet, Options, bytes_under};
use crate::dataflows::FLOW_SPEC;

const SENTINEL: &str = "Hostile-Sentinel-pw-0c9e71";
const CATALOG: &str = "/data/foundation/catalog";
const CONVERSION: &str = "/data/foundation/conversion";
const SANDBOXES: &str = "/data/foundation/sandbox-management/sandboxes";
const DATALAKE_SPEC: &str = "c604ff05-7f1a-43c0-8e18-33bf874cb11c";

/// Sends requests and checks each answer: no 5xx, no sentinel; counts them by category.
#[derive(Default)]
struct Corpus {
    counts: BTreeMap<&'static str, usize>,
}

impl Corpus {
    async fn send(&mut self, category: &'static str, request: RequestBuilder) -> (u16, Value) {
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => panic!("{category}: no answer: {error:?}"),
        };
        let status = response.status().as_u16();
        let headers = format!("{:?}", response.headers());
        let bytes = response.bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(status < 500, "{category}: {status} {text}");
        assert!(
            !text.contains(SENTINEL) && !headers.contains(SENTINEL),
            "{category}: {text}"
        );
        *self.counts.entry(category).or_default() += 1;
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

/// Org A's resources, one of each kind, by their item paths.
struct Victim {
    paths: Vec<String>,
    connection: String,
}

async fn victim_resources(api: &Identity, pg: &PgServer) -> Victim {
    let created = |reply: crate::common::server::Reply| {
        assert!(reply.status.is_success(), "{}", reply.body);
        reply.body["id"].as_str().map(str::to_string).unwrap_or_default()
    };
    let connection = api
        .create_connection(&basic("victim", "127.0.0.1", pg.port(), "victim", SENTINEL, "Disable"))
        .await;
    let source = created(
        api.post(
            "/sourceConnections",
            &json!({"name": "s", "baseConnectionId": connection,
            "data": {"format": "tabular"}, "params": {"tableName": "public.items"},
            "connectionSpec": {"id": crate::common::server::PG_SPEC, "version": "1.0"}}),
        )
        .await,
    );
    let reply = api
        .send(
            api.request(Method::POST, &format!("{CATALOG}/dataSets"))
                .json(&json!({"name": "d"})),
        )
        .await;
    let dataset = reply.body[0]
        .as_str()
        .unwrap()
        .trim_start_matches("@/dataSets/")
        .to_string();
    let target = created(
        api.post(
            "/targetConnections",
            &json!({"name": "t", "data": {"format": "delta"},
            "params": {"dataSetId": dataset}, "connectionSpec": {"id": DATALAKE_SPEC, "version": "1.0"}}),
        )
        .await,
    );
    let flow = created(
        api.post(
            "/flows",
            &json!({"name": "f", "flowSpec": {"id": FLOW_SPEC, "version": "1.0"},
            "sourceConnectionIds": [source], "targetConnectionIds": [target], "transformations": [],
            "scheduleParams": {"startTime": "4102444800", "frequency": "once"}}),
        )
        .await,
    );
    let now = chrono::Utc::now().timestamp();
    let window = json!({"windowStartTime": now - 7200, "windowEndTime": now - 3600,
        "deltaColumn": {"name": "updated_at"}});
    let run = api.post("/runs", &json!({"flowId": flow, "params": window})).await;
    assert!(run.status.is_success(), "{}", run.body);
    let run = run.body["items"][0]["id"].as_str().unwrap().to_string();
    let mapping = api
        .send(
            api.request(Method::POST, &format!("{CONVERSION}/mappingSets"))
                .json(&json!({"mappings": [{"source": "id", "destination": "id"}]})),
        )
        .await;
    let mapping = mapping.body["id"].as_str().unwrap().to_string();
    let sandbox = api
        .send(api.request(Method::POST, SANDBOXES).json(&json!({"name": "dev"})))
        .await;
    assert!(sandbox.status.is_success(), "{}", sandbox.body);
    Victim {
        paths: vec![
            format!("{FLOW}/connections/{connection}"),
            format!("{FLOW}/sourceConnections/{source}"),
            format!("{FLOW}/targetConnections/{target}"),
            format!("{FLOW}/flows/{flow}"),
            format!("{FLOW}/runs/{run}"),
            format!("{CATALOG}/dataSets/{dataset}"),
            format!("{CONVERSION}/mappingSets/{mapping}"),
            format!("{SANDBOXES}/dev"),
        ],
        connection,
    }
}

/// The write endpoints: (method, path) with `{id}` standing for a victim's id.
fn write_endpoints(victim: &Victim) -> Vec<(Method, String)> {
    let mut endpoints = vec![
        (Method::POST, format!("{FLOW}/connections")),
        (Method::POST, format!("{FLOW}/sourceConnections")),
        (Method::POST, format!("{FLOW}/targetConnections")),
        (Method::POST, format!("{FLOW}/flows")),
        (Method::POST, format!("{FLOW}/runs")),
        (Method::POST, format!("{CATALOG}/dataSets")),
        (Method::POST, format!("{CONVERSION}/mappingSets")),
        (Method::POST, SANDBOXES.to_string()),
        (Method::POST, "/ims/token/v3".to_string()),
    ];
    for path in &victim.paths[..4] {
        endpoints.push((Method::PATCH, path.clone()));
    }
    endpoints.push((Method::POST, format!("{}/action?op=disable", victim.paths[3])));
    endpoints.push((Method::PUT, victim.paths[6].clone()));
    endpoints
}

/// Bodies of every kind of wrongness, some carrying the sentinel.
fn malformed_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let mut bodies: Vec<(&'static str, Vec<u8>)> = vec![
        ("application/json", Vec::new()),
        ("application/json", b"null".to_vec()),
        ("application/json", b"{".to_vec()),
        ("application/json", b"[]".to_vec()),
        ("application/json", b"{}".to_vec()),
        ("application/json", b"\"text\"".to_vec()),
        ("application/json", b"1e999999".to_vec()),
        ("application/json", vec![0xff, 0xfe, b'{', b'}']),
        ("application/json", deep.into_bytes()),
        ("text/plain", b"{}".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials&client_id=%00".to_vec(),
        ),
    ];
    let shapes = [
        json!({"name": {"$gt": ""}, "auth": [SENTINEL], "connectionSpec": 7}),
        json!({"name": "n", "auth": {"specName": "Basic Authentication", "params": {"password": SENTINEL, "port": SENTINEL}},
               "connectionSpec": {"id": crate::common::server::PG_SPEC}}),
        json!({"name": "\u{0000}", "description": "x".repeat(100_000), "flowId": ["x"], "mappings": {"a": SENTINEL}}),
        json!([{"op": "replace", "path": "/auth/params/password"}]),
        json!([{"op": "copy", "from": "/auth/params/password", "path": "/name"}]),
        json!([{"op": "move", "from": "/auth/params", "path": "/description"}]),
        json!([{"op": "replace", "path": "/~1..~1..", "value": SENTINEL}]),
        json!([{"op": "replace", "path": "/auth/params/port", "value": SENTINEL}]),
        json!([{"op": "add", "path": "/auth/params/-", "value": 1}]),
        json!([{"op": "remove", "path": "/id"}, {"op": "add", "path": "/imsOrgId", "value": "ORG2@AdobeOrg"}]),
        json!({"name": "prod", "type": "production", "title": 5}),
        json!({"mappings": [{"source": "'; DROP TABLE resources; --", "destination": "a..b"}]}),
    ];
    bodies.extend(shapes.iter().map(|b| ("application/json", b.to_string().into_bytes())));
    bodies
}

/// Paths and queries an attacker would try, against each list and item route.
fn hostile_paths(victim: &Victim) -> Vec<String> {
    let id = &victim.connection;
    let mut paths = vec![
        format!("{FLOW}/connections/..%2F..%2F..%2Fetc%2Fpasswd"),
        format!("{FLOW}/connections/%27%20OR%201%3D1%20--"),
        format!("{FLOW}/connections/{}", "a".repeat(10_000)),
        format!("{FLOW}/connections/%00"),
        format!("{FLOW}/connections/{id}/explore?objectType=table&object=public.items%3B%20DROP%20TABLE%20x"),
        format!("{FLOW}/connections/{id}/explore?objectType=table&object=%22a%22%22.b&preview=true&limit=100000"),
        format!("{FLOW}/connections/{id}/explore?objectType=ROOT%00"),
        format!("{FLOW}/connections?property=auth.params.password=={SENTINEL}"),
        format!("{FLOW}/connections?property=auth.params.password~S"),
        format!("{FLOW}/connections?orderby=auth.params.password"),
        format!("{FLOW}/connections?limit=-1"),
        format!("{FLOW}/connections?limit=99999999999999999999"),
        format!("{FLOW}/connections?continuationToken=eyJsaW1pdCI6MTAwMDAwMDB9"),
        format!("{FLOW}/connections?property={}", "a.".repeat(2000)),
        format!("{FLOW}/runs?property=flowId=={id}&count=true&limit=1"),
        format!("{CONVERSION}/mappingSets?start=18446744073709551615&limit=100"),
        format!("{CONVERSION}/mappingSets/x?version=-9223372036854775808"),
        format!("{CATALOG}/batches?limit=abc"),
        format!("{SANDBOXES}/..%2Fprod"),
        "/%2e%2e/%2e%2e/etc/passwd".to_string(),
        "/metrics/../healthz".to_string(),
    ];
    paths.extend(victim.paths.iter().map(|p| format!("{p}?version=1&property=id==x")));
    paths
}

#[tokio::test]
async fn a_hostile_corpus_finds_no_crash_leak_or_cross_tenant_success() {
    let pg = PgServer::start(PgOptions {
        users: vec![User::new("victim", SENTINEL, Auth::Scram)],
        ..PgOptions::default()
    });
    pg.psql(
        "postgres",
        "CREATE TABLE public.items (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now());
         GRANT SELECT ON public.items TO victim;",
    );
    let inlet = Inlet::start_with(Options {
        log_level: Some("debug".into()),
        config: Some("source_checks_burst = 1000\n".into()),
        ..Options::default()
    });
    // A server may close a connection after answering a request whose body it did not
    // read (HTTP/1.1 allows it); with no pooling no request meets such a connection.
    let lone = || reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let owner = Identity {
        http: lone(),
        ..inlet.identity("ORGA@AdobeOrg")
    };
    let attacker = Identity {
        http: lone(),
        ..inlet.identity("ORGB@AdobeOrg")
    };
    let victim = victim_resources(&owner, &pg).await;
    let mut corpus = Corpus::default();

    for (method, path) in write_endpoints(&victim) {
        // Too large for any endpoint: 4xx (413, or 400 where the form is wrong first),
        // though the server may close the connection before reading it all.
        let oversize = owner
            .request(method.clone(), &path)
            .json(&json!({"name": "x".repeat(2 << 20)}));
        match oversize.send().await {
            // The flow action reads no body, so it does not judge one.
            Ok(response) if path.contains("/action") => assert!(!response.status().is_server_error()),
            Ok(response) => assert!(response.status().is_client_error(), "{path}: {}", response.status()),
            Err(error) => assert!(error.is_request(), "{path}: {error:?}"),
        }
        *corpus.counts.entry("malformed bodies").or_default() += 1;
        for (content_type, body) in malformed_bodies() {
            let request = owner
                .request(method.clone(), &path)
                .header("content-type", content_type)
                .header("if-match", "*")
                .body(body);
            corpus.send("malformed bodies", request).await;
        }
    }
    for path in hostile_paths(&victim) {
        // The owner's own resources are not deleted: later checks need them.
        let mine = victim.paths.iter().any(|p| path.starts_with(p.as_str()));
        let methods = [Method::GET, Method::HEAD, Method::OPTIONS, Method::DELETE];
        for method in methods.into_iter().filter(|m| !mine || *m != Method::DELETE) {
            corpus
                .send("hostile paths and queries", owner.request(method, &path))
                .await;
        }
    }
    forged_tokens(&inlet, &owner, &victim, &mut corpus).await;
    cross_tenant(&owner, &attacker, &victim, &mut corpus).await;
    racing_patches(&owner, &victim, &mut corpus).await;

    let health = reqwest::get(format!("{}/healthz", inlet.base)).await.unwrap();
    assert_eq!(health.status(), 200, "the server survived");
    let logs = inlet.logs();
    assert!(logs.contains("DEBUG"), "the server logged at debug level");
    assert!(!logs.contains(SENTINEL), "the sentinel is in the log");
    let files = bytes_under(&inlet.data_dir());
    assert!(
        !files.windows(SENTINEL.len()).any(|w| w == SENTINEL.as_bytes()),
        "the sentinel is in a file"
    );
    eprintln!("hostile corpus: {:?}", corpus.counts);
}

/// Tokens that are absent, broken, signed with another key, expired, or another org's.
async fn forged_tokens(inlet: &Inlet, owner: &Identity, victim: &Victim, corpus: &mut Corpus) {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let now = chrono::Utc::now().timestamp();
    let claims = |org: &str, exp: i64| {
        json!({"iss": "inlet", "sub": format!("{}@{org}", owner.client_id), "client_id": owner.client_id,
               "org": org, "iat": now - 7200, "exp": exp})
    };
    let key =
        inlet::identity::keys::load_or_create(None, &inlet.data_dir(), inlet::identity::keys::TOKEN_KEY_FILE).unwrap();
    let real = EncodingKey::from_secret(key.bytes());
    let other = EncodingKey::from_secret(b"not the server's key, not at all");
    let header = Header::default();
    let expired = encode(&header, &claims(&owner.org, now - 3600), &real).unwrap();
    let foreign = encode(&header, &claims(&owner.org, now + 3600), &other).unwrap();
    let unsigned = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        base64_url(&claims(&owner.org, now + 3600).to_string())
    );
    let tokens = [
        String::new(),
        "garbage".into(),
        "a.b.c".into(),
        expired,
        foreign,
        unsigned,
    ];
    for path in &victim.paths {
        for token in &tokens {
            let forged = Identity {
                token: token.clone(),
                ..owner.clone()
            };
            let (status, _) = corpus.send("forged tokens", forged.request(Method::GET, path)).await;
            assert!(status == 401 || status == 403, "{path} with a forged token: {status}");
        }
        // A valid token of this org, but claims of another org in the headers.
        let mismatched = owner
            .http
            .get(format!("{}{path}", owner.base))
            .bearer_auth(&owner.token)
            .header("x-api-key", &owner.client_id)
            .header("x-gw-ims-org-id", "ORGB@AdobeOrg")
            .header("x-sandbox-name", "prod");
        let (status, _) = corpus.send("forged tokens", mismatched).await;
        assert!((400..500).contains(&status), "{path}: {status}");
    }
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Another org, and the owner in another sandbox, read and write every resource kind.
async fn cross_tenant(owner: &Identity, attacker: &Identity, victim: &Victim, corpus: &mut Corpus) {
    let other_sandbox = owner.in_sandbox("dev");
    for intruder in [attacker, &other_sandbox] {
        for path in &victim.paths {
            let is_sandbox = path.starts_with(SANDBOXES);
            if is_sandbox && intruder.org == owner.org {
                continue; // sandboxes belong to the org, which this caller is in
            }
            let attempts = [
                intruder.request(Method::GET, path),
                intruder
                    .request(Method::PATCH, path)
                    .header("if-match", "*")
                    .json(&json!([{"op": "replace", "path": "/name", "value": "taken"}])),
                intruder.request(Method::PUT, path).json(&json!({"mappings": []})),
                intruder.request(Method::DELETE, path),
                intruder.request(Method::GET, &format!("{path}/test")),
                intruder.request(Method::GET, &format!("{path}/explore?objectType=root")),
            ];
            for request in attempts {
                let (status, body) = corpus.send("cross-tenant", request).await;
                assert!(
                    !(200..300).contains(&status),
                    "{path} reached across tenants: {status} {body}"
                );
            }
        }
        let listed = intruder.get("/connections").await;
        assert!(!listed.body.to_string().contains(&victim.connection));
        let reference = json!({"name": "s", "baseConnectionId": victim.connection, "data": {"format": "tabular"},
            "params": {"tableName": "public.items"}, "connectionSpec": {"id": crate::common::server::PG_SPEC, "version": "1.0"}});
        let request = intruder
            .request(Method::POST, &format!("{FLOW}/sourceConnections"))
            .json(&reference);
        let (status, _) = corpus.send("cross-tenant", request).await;
        assert!(
            (400..500).contains(&status),
            "a source connection on another tenant's connection: {status}"
        );
    }
    for path in &victim.paths {
        let (status, _) = corpus.send("cross-tenant", owner.request(Method::GET, path)).await;
        assert_eq!(status, 200, "{path} is still the owner's");
    }
}

/// Twenty PATCHes with the same etag: exactly one wins, and its change is the one kept.
async fn racing_patches(owner: &Identity, victim: &Victim, corpus: &mut Corpus) {
    for path in &victim.paths[..4] {
        let etag = owner.send(owner.request(Method::GET, path)).await.body["items"][0]["etag"]
            .as_str()
            .unwrap()
            .to_string();
        let requests = (0..20).map(|i| {
            let ops = json!([{"op": "replace", "path": "/name", "value": format!("racer {i}")}]);
            owner
                .request(Method::PATCH, path)
                .header("if-match", &etag)
                .json(&ops)
                .send()
        });
        let answers = futures::future::join_all(requests).await;
        let mut winners = Vec::new();
        for (i, answer) in answers.into_iter().enumerate() {
            let status = answer.expect("answered").status().as_u16();
            assert!(status == 200 || status == 412, "{path}: {status}");
            if status == 200 {
                winners.push(i);
            }
        }
        *corpus.counts.entry("racing patches").or_default() += 20;
        assert_eq!(winners.len(), 1, "{path}: winners {winners:?}");
        let (_, now) = corpus.send("racing patches", owner.request(Method::GET, path)).await;
        assert_eq!(
            now["items"][0]["name"],
            format!("racer {}", winners[0]),
            "{path}: lost update"
        );
    }
}
