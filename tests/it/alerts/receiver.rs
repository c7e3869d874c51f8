//! A real webhook receiver on a loopback port: records every request it gets and answers
//! as the test tells it (2xx, a status, a redirect, or never).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How the receiver answers.
#[derive(Clone, Debug)]
pub enum Answer {
    Ok,
    Status(u16),
    RedirectTo(String),
    Hang,
}

/// One request received.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// Whether `x-inlet-signature` is HMAC-SHA256 under `secret` of `t + "." + body`,
    /// computed here independently of Inlet's code.
    pub fn signed_with(&self, secret: &str) -> bool {
        let header = self.header("x-inlet-signature");
        let mut t = None;
        let mut v1 = None;
        for part in header.split(',') {
            match part.split_once('=') {
                Some(("t", value)) => t = Some(value.to_string()),
                Some(("v1", value)) => v1 = Some(value.to_string()),
                _ => {}
            }
        }
        let (Some(t), Some(v1)) = (t, v1) else { return false };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&self.body);
        hex::encode(mac.finalize().into_bytes()) == v1
    }
}

#[derive(Default)]
struct Inner {
    answer: Option<Answer>,
    received: Vec<Received>,
}

/// The receiver; it stops with the test's runtime.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Listens on a free loopback port, answering `answer`.
    pub async fn start(answer: Answer) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::serve(listener, answer)
    }

    /// Listens on `addr` (a port a test reserved while the receiver was "down").
    pub async fn start_on(addr: SocketAddr, answer: Answer) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("the reserved port is free");
        Receiver::serve(listener, answer)
    }

    fn serve(listener: tokio::net::TcpListener, answer: Answer) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            answer: Some(answer),
            received: Vec::new(),
        }));
        let app = axum::Router::new().fallback(receive).with_state(inner.clone());
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, inner }
    }

    /// The URL to subscribe.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Changes how it answers.
    pub fn answer(&self, answer: Answer) {
        self.inner.lock().unwrap().answer = Some(answer);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }
}

async fn receive(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received {
            headers,
            body: body.to_vec(),
        });
        inner.answer.clone().unwrap_or(Answer::Ok)
    };
    match answer {
        Answer::Ok => StatusCode::NO_CONTENT.into_response(),
        Answer::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Answer::RedirectTo(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Answer::Hang => std::future::pending().await,
    }
}

/// A loopback port free now, on which nothing listens (a receiver that is down).
pub fn reserved_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}
