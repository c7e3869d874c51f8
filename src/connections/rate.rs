//! Per-org rate limits on the requests that make Inlet connect somewhere (connection
//! tests and explore): a token bucket per org, refilled continuously.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// The buckets of every org that made such a request; an org whose bucket is full again
/// is forgotten, so the map holds only orgs active within the last refill period.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Takes one request from `org`'s bucket, or says how long until one is free.
    pub fn take(&self, org: &str, limit: RateLimit) -> Result<(), Duration> {
        self.take_at(org, limit, Instant::now())
    }

    fn take_at(&self, org: &str, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(limit.burst);
        let per_second = limit.per_minute / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < burst);
        let bucket = buckets
            .entry(org.to_string())
            .or_insert(Bucket { tokens: burst, at: now });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                ((1.0 - bucket.tokens) / per_second).min(86_400.0),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_org_has_its_own_bucket_that_refills() {
        let limiter = RateLimiter::new();
        let limit = RateLimit {
            per_minute: 60.0,
            burst: 2,
        };
        let start = Instant::now();
        assert_eq!(limiter.take_at("a", limit, start), Ok(()));
        assert_eq!(limiter.take_at("a", limit, start), Ok(()));
        let wait = limiter.take_at("a", limit, start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert_eq!(limiter.take_at("b", limit, start), Ok(()));
        assert_eq!(limiter.take_at("a", limit, start + Duration::from_secs(1)), Ok(()));
        assert!(limiter.take_at("a", limit, start + Duration::from_secs(1)).is_err());
        // Full buckets are dropped: only busy orgs are remembered.
        assert_eq!(limiter.take_at("c", limit, start + Duration::from_secs(60)), Ok(()));
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1);
    }
}
