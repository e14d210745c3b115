//! Fault injection: the failures real Salesforce clients must survive, configured per run and
//! deterministic, so a test that provokes a failure provokes the same one every time.
//!
//! A [`FaultPlan`] is a seed and a list of [`FaultRule`]s. Each rule has a [`FaultKind`] and a
//! [`Trigger`]; the trigger counts only the requests the kind applies to (its *eligible*
//! requests: every API call for sessions and 5xx, query calls for `QUERY_TIMEOUT`, Bulk
//! result downloads for NUL bytes, …), so `at=2` on `query-timeout` means "the second query".
//! `rate=p` draws from a hash of (seed, rule index, eligible count): the same plan and the same
//! request sequence give the same faults.
//!
//! Textual form (CLI `--faults`): comma-separated `KIND[=PARAM]:TRIGGER`, where TRIGGER is
//! `at=K`, `every=N` or `rate=P`, e.g.
//! `expired-session:every=50,http-503:at=3,slow=250:rate=0.1,bulk-failed=timeout:at=1`.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A set of fault rules for one simulator run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// Seed of the `rate` draws.
    #[serde(default)]
    pub seed: u64,
    /// The rules, checked in order; several may fire on one request.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// One fault and when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// What goes wrong.
    pub kind: FaultKind,
    /// On which eligible requests.
    pub trigger: Trigger,
}

/// When a rule fires, counted over the requests its kind applies to (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Exactly the K-th eligible request.
    At(u64),
    /// Every N-th eligible request (N, 2N, …).
    Every(u64),
    /// Each eligible request with this probability (seeded).
    Rate(f64),
}

/// A kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Any API call: the session is treated as expired (401 `INVALID_SESSION_ID`) and revoked,
    /// so the client must get a new token.
    ExpiredSession,
    /// Any API call: HTTP 500 `UNKNOWN_EXCEPTION`.
    ServerError,
    /// Any API call: HTTP 503 `SERVER_UNAVAILABLE`.
    ServiceUnavailable,
    /// Any API call: the response is delayed by this many milliseconds.
    Slow(u64),
    /// REST `query`/`queryAll` (first page): 400 `QUERY_TIMEOUT`.
    QueryTimeout,
    /// REST query-more (`nextRecordsUrl`): 400 `INVALID_QUERY_LOCATOR`, the cursor is dropped.
    InvalidQueryLocator,
    /// Bulk query job creation: 400 `INVALIDENTITY` for the queried object.
    InvalidEntity,
    /// Bulk query job creation: the job ends `Failed` with "Retried more than fifteen times".
    BulkFailedRetries,
    /// Bulk query job creation: the job ends `Failed` with a `QUERY_TIMEOUT` message.
    BulkFailedTimeout,
    /// Bulk results download: a NUL byte is inserted into the first data row of the page.
    NulBytes,
    /// Any API response with a body: only the first half is sent, then the connection closes
    /// short of the announced `Content-Length`.
    TruncatedBody,
}

/// Which requests a kind applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// Every counted API call (before it is handled).
    AnyCall,
    /// The first page of a REST query or queryAll.
    Query,
    /// A REST query-more request.
    QueryMore,
    /// A Bulk query job creation.
    BulkCreate,
    /// A Bulk results page.
    BulkResults,
    /// Any response with a body (after it is produced).
    AnyResponse,
}

impl FaultKind {
    pub(crate) fn site(self) -> Site {
        match self {
            FaultKind::ExpiredSession
            | FaultKind::ServerError
            | FaultKind::ServiceUnavailable
            | FaultKind::Slow(_) => Site::AnyCall,
            FaultKind::QueryTimeout => Site::Query,
            FaultKind::InvalidQueryLocator => Site::QueryMore,
            FaultKind::InvalidEntity
            | FaultKind::BulkFailedRetries
            | FaultKind::BulkFailedTimeout => Site::BulkCreate,
            FaultKind::NulBytes => Site::BulkResults,
            FaultKind::TruncatedBody => Site::AnyResponse,
        }
    }
}

/// A fault plan being applied: the plan plus how many eligible requests each rule has seen.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    plan: FaultPlan,
    seen: Vec<u64>,
}

impl FaultState {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        let seen = vec![0; plan.rules.len()];
        Self { plan, seen }
    }

    /// Counts one request at `site` and returns the kinds that fire on it, in rule order.
    pub(crate) fn fire(&mut self, site: Site) -> Vec<FaultKind> {
        let mut fired = Vec::new();
        for (index, rule) in self.plan.rules.iter().enumerate() {
            if rule.kind.site() != site {
                continue;
            }
            let Some(count) = self.seen.get_mut(index) else {
                continue;
            };
            *count += 1;
            let n = *count;
            let fires = match rule.trigger {
                Trigger::At(k) => n == k,
                Trigger::Every(every) => every > 0 && n % every == 0,
                Trigger::Rate(p) => unit_draw(self.plan.seed, index as u64, n) < p,
            };
            if fires {
                fired.push(rule.kind);
            }
        }
        fired
    }
}

/// A uniform draw in [0, 1) from (seed, rule, n): splitmix64 finalizer over the mixed inputs.
fn unit_draw(seed: u64, rule: u64, n: u64) -> f64 {
    let mut z =
        seed ^ rule.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Why a textual fault plan was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault rule {rule:?}: {reason}")]
pub struct FaultParseError {
    /// The offending rule text.
    pub rule: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for FaultRule {
    type Err = FaultParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason| FaultParseError {
            rule: text.to_owned(),
            reason,
        };
        let (kind_text, trigger_text) = text
            .split_once(':')
            .ok_or_else(|| err("expected KIND[=PARAM]:TRIGGER"))?;
        let (kind_name, param) = match kind_text.split_once('=') {
            Some((name, param)) => (name.trim(), Some(param.trim())),
            None => (kind_text.trim(), None),
        };
        let kind = match (kind_name, param) {
            ("expired-session", None) => FaultKind::ExpiredSession,
            ("http-500", None) => FaultKind::ServerError,
            ("http-503", None) => FaultKind::ServiceUnavailable,
            ("slow", Some(ms)) => {
                FaultKind::Slow(ms.parse().map_err(|_| err("slow=MILLISECONDS"))?)
            }
            ("query-timeout", None) => FaultKind::QueryTimeout,
            ("invalid-query-locator", None) => FaultKind::InvalidQueryLocator,
            ("invalid-entity", None) => FaultKind::InvalidEntity,
            ("bulk-failed", Some("retries") | None) => FaultKind::BulkFailedRetries,
            ("bulk-failed", Some("timeout")) => FaultKind::BulkFailedTimeout,
            ("nul-bytes", None) => FaultKind::NulBytes,
            ("truncated-body", None) => FaultKind::TruncatedBody,
            _ => return Err(err("unknown kind or parameter")),
        };
        let (trigger_name, value) = trigger_text
            .split_once('=')
            .ok_or_else(|| err("trigger must be at=K, every=N or rate=P"))?;
        let trigger = match trigger_name.trim() {
            "at" => Trigger::At(
                value
                    .trim()
                    .parse()
                    .map_err(|_| err("at=K needs an integer"))?,
            ),
            "every" => match value.trim().parse() {
                Ok(n) if n > 0 => Trigger::Every(n),
                _ => return Err(err("every=N needs a positive integer")),
            },
            "rate" => match value.trim().parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Trigger::Rate(p),
                _ => return Err(err("rate=P needs a probability in [0, 1]")),
            },
            _ => return Err(err("trigger must be at=K, every=N or rate=P")),
        };
        Ok(FaultRule { kind, trigger })
    }
}

impl FromStr for FaultPlan {
    type Err = FaultParseError;

    /// Parses the comma-separated rule list; the seed is 0 (set it with the CLI's `--seed`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let rules = text
            .split(',')
            .map(str::trim)
            .filter(|rule| !rule.is_empty())
            .map(FaultRule::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FaultPlan { seed: 0, rules })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_examples() {
        let plan: FaultPlan =
            "expired-session:every=50, http-503:at=3,slow=250:rate=0.1,bulk-failed=timeout:at=1"
                .parse()
                .unwrap();
        assert_eq!(
            plan.rules,
            vec![
                FaultRule {
                    kind: FaultKind::ExpiredSession,
                    trigger: Trigger::Every(50)
                },
                FaultRule {
                    kind: FaultKind::ServiceUnavailable,
                    trigger: Trigger::At(3)
                },
                FaultRule {
                    kind: FaultKind::Slow(250),
                    trigger: Trigger::Rate(0.1)
                },
                FaultRule {
                    kind: FaultKind::BulkFailedTimeout,
                    trigger: Trigger::At(1)
                },
            ]
        );
        assert!("nonsense:at=1".parse::<FaultPlan>().is_err());
        assert!("http-500:every=0".parse::<FaultPlan>().is_err());
        assert!("http-500:rate=2".parse::<FaultPlan>().is_err());
    }

    #[test]
    fn triggers_count_only_eligible_requests() {
        let mut state = FaultState::new("query-timeout:at=2,http-500:every=3".parse().unwrap());
        let mut any = Vec::new();
        for _ in 0..6 {
            any.push(state.fire(Site::AnyCall));
        }
        assert_eq!(any.iter().filter(|f| !f.is_empty()).count(), 2);
        assert_eq!(any[2], vec![FaultKind::ServerError]);
        assert!(state.fire(Site::Query).is_empty());
        assert_eq!(state.fire(Site::Query), vec![FaultKind::QueryTimeout]);
        assert!(state.fire(Site::Query).is_empty());
    }

    #[test]
    fn rate_is_seeded_and_roughly_right() {
        let plan = FaultPlan {
            seed: 9,
            ..FaultPlan::from_str("http-503:rate=0.25").unwrap()
        };
        let run = |plan: &FaultPlan| {
            let mut state = FaultState::new(plan.clone());
            (0..4000)
                .map(|_| !state.fire(Site::AnyCall).is_empty())
                .collect::<Vec<_>>()
        };
        let first = run(&plan);
        assert_eq!(first, run(&plan));
        let hits = first.iter().filter(|&&hit| hit).count();
        assert!((800..1200).contains(&hits), "{hits} hits of 4000 at p=0.25");
        let other = FaultPlan { seed: 10, ..plan };
        assert_ne!(first, run(&other));
    }
}
