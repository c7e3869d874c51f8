//! Subscriptions as stored: a webhook URL, the events wanted, optionally the flows, and
//! the secret that signs deliveries (sealed in the resource's secret column).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::events::EventKind;
use crate::identity::Tenant;
use crate::sources::egress::EgressPolicy;

/// The store kind of subscriptions.
pub const SUBSCRIPTION_KIND: &str = "alertSubscription";

/// What a subscription asks for: the part of its document the delivery worker reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub events: Vec<EventKind>,
    /// Only these flows' events; empty: every flow of the sandbox.
    #[serde(default)]
    pub flow_ids: Vec<String>,
    /// At most this many deliveries a minute; `None`: no limit.
    #[serde(default)]
    pub max_deliveries_per_minute: Option<u32>,
}

impl Subscription {
    /// Reads a stored subscription document.
    pub fn from_doc(doc: &Value) -> Result<Subscription, serde_json::Error> {
        Subscription::deserialize(doc)
    }

    /// Whether an event of `kind` about `flow_id` goes to this subscription.
    pub fn wants(&self, kind: &str, flow_id: Option<&str>) -> bool {
        let kind_wanted = self.events.iter().any(|k| k.as_str() == kind);
        let flow_wanted = self.flow_ids.is_empty() || flow_id.is_some_and(|f| self.flow_ids.iter().any(|id| id == f));
        kind_wanted && flow_wanted
    }
}

/// What the secret is bound to when sealed: the owning record, so a ciphertext copied
/// onto another subscription does not open.
pub fn secret_binding(tenant: &Tenant, id: &str) -> String {
    format!("{}/{}/{SUBSCRIPTION_KIND}/{id}", tenant.org, tenant.sandbox)
}

/// Checks a webhook URL: `https`, or `http` when the operator allows it; a host the
/// egress policy does not refuse as written (its addresses are checked again at each
/// delivery). The message names what is allowed.
pub fn check_url(text: &str, allow_http: bool, egress: &EgressPolicy) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|_| format!("`{text}` is not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err("must be an https:// URL (plain http is off on this server: setting alerts.allow_http)".into());
        }
        other => return Err(format!("scheme `{other}` is not allowed; use https://")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password; deliveries are signed instead".into());
    }
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err("has no host".into()),
    };
    egress.check_host(&host).map_err(|refused| refused.to_string())?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls_are_https_unless_http_is_allowed_and_the_policy_decides_the_host() {
        let policy = EgressPolicy::default();
        assert!(check_url("https://hooks.example.com/x", false, &policy).is_ok());
        assert!(
            check_url("http://127.0.0.1:9/x", false, &policy)
                .unwrap_err()
                .contains("alerts.allow_http")
        );
        assert!(check_url("http://127.0.0.1:9/x", true, &policy).is_ok());
        assert!(
            check_url("ftp://example.com/", true, &policy)
                .unwrap_err()
                .contains("ftp")
        );
        assert!(check_url("not a url", true, &policy).is_err());
        assert!(
            check_url("https://u:p@example.com/", true, &policy)
                .unwrap_err()
                .contains("password")
        );
        let refused = check_url("http://169.254.169.254/latest/meta-data", true, &policy).unwrap_err();
        assert!(refused.contains("egress policy"), "{refused}");
        assert!(check_url("https://[fe80::1]/", true, &policy).is_err());
        assert!(check_url("https://metadata.google.internal/", true, &policy).is_err());
    }

    #[test]
    fn a_subscription_wants_its_kinds_of_its_flows() {
        let all =
            Subscription::from_doc(&json!({"id": "s", "url": "https://x", "events": ["flow.run.failure"]})).unwrap();
        assert!(all.wants("flow.run.failure", Some("f1")));
        assert!(!all.wants("flow.run.success", Some("f1")));
        let some = Subscription::from_doc(
            &json!({"id": "s", "url": "https://x", "events": ["flow.run.success"], "flowIds": ["f1"]}),
        )
        .unwrap();
        assert!(some.wants("flow.run.success", Some("f1")));
        assert!(!some.wants("flow.run.success", Some("f2")));
        assert!(!some.wants("flow.run.success", None));
    }
}
