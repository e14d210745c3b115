//! The API budget: every REST response reports the org's rolling 24-hour usage in
//! `Sforce-Limit-Info: api-usage=N/M`; the client stops itself at a configured share of `M`
//! so a backup never starves the org's own integrations (commercial tools stop at 80%).

use std::sync::Mutex;

use serde::Deserialize;

use crate::error::Error;

/// The share of the daily API limit at which the client stops by default.
pub const DEFAULT_STOP_SHARE: f64 = 0.8;

/// Parsed `Sforce-Limit-Info` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    /// Requests used in the rolling 24 hours.
    pub used: u64,
    /// The org's daily limit.
    pub max: u64,
}

/// Parses `api-usage=10018/100000` with optional further `; key=value` parts
/// (`per-app-api-usage=17/250(appName=sample-app)`), which are ignored.
pub fn parse_limit_info(header: &str) -> Option<ApiUsage> {
    header.split(';').find_map(|part| {
        let (key, value) = part.trim().split_once('=')?;
        if key.trim() != "api-usage" {
            return None;
        }
        let (used, max) = value.trim().split_once('/')?;
        Some(ApiUsage {
            used: used.trim().parse().ok()?,
            max: max.trim().parse().ok()?,
        })
    })
}

/// Tracks the last reported usage and decides whether another request may be sent.
#[derive(Debug)]
pub struct Budget {
    stop_share: f64,
    last: Mutex<Option<ApiUsage>>,
}

impl Budget {
    /// A budget that stops at `stop_share` (0.0..=1.0) of the daily limit.
    pub fn new(stop_share: f64) -> Result<Self, Error> {
        if !(stop_share > 0.0 && stop_share <= 1.0) {
            return Err(Error::Config(format!(
                "API budget share must be in (0, 1], got {stop_share}"
            )));
        }
        Ok(Budget {
            stop_share,
            last: Mutex::new(None),
        })
    }

    /// Records the usage reported by a response.
    pub fn observe(&self, usage: ApiUsage) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(usage);
        }
    }

    /// Records the usage from `GET /limits` (`DailyApiRequests`).
    pub fn observe_limits(&self, limits: &Limits) {
        if let Some(d) = limits.daily_api_requests {
            self.observe(ApiUsage {
                used: d.max.saturating_sub(d.remaining),
                max: d.max,
            });
        }
    }

    /// The last usage seen, if any.
    pub fn last(&self) -> Option<ApiUsage> {
        self.last.lock().ok().and_then(|l| *l)
    }

    /// `Err(BudgetReached)` when the last reported usage is at or above the stop share.
    pub fn check(&self) -> Result<(), Error> {
        match self.last() {
            Some(u) if u.max > 0 && (u.used as f64) >= self.stop_share * (u.max as f64) => {
                Err(Error::BudgetReached {
                    used: u.used,
                    max: u.max,
                    share: self.stop_share,
                })
            }
            _ => Ok(()),
        }
    }
}

/// One `{"Max":15000,"Remaining":14998}` entry of `GET /limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct LimitValue {
    /// The limit.
    #[serde(rename = "Max")]
    pub max: u64,
    /// What is left.
    #[serde(rename = "Remaining")]
    pub remaining: u64,
}

/// The parts of `GET /limits` a backup cares about; the whole body is kept in `raw`.
#[derive(Debug, Clone, Deserialize)]
pub struct Limits {
    /// `DailyApiRequests`.
    #[serde(rename = "DailyApiRequests")]
    pub daily_api_requests: Option<LimitValue>,
    /// `DailyBulkV2QueryJobs`.
    #[serde(rename = "DailyBulkV2QueryJobs")]
    pub daily_bulk_v2_query_jobs: Option<LimitValue>,
    /// `DailyBulkV2QueryFileStorageMB`.
    #[serde(rename = "DailyBulkV2QueryFileStorageMB")]
    pub daily_bulk_v2_query_file_storage_mb: Option<LimitValue>,
    /// The other limits, as sent.
    #[serde(flatten)]
    pub raw: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_limit_info() {
        assert_eq!(
            parse_limit_info("api-usage=10018/100000"),
            Some(ApiUsage {
                used: 10018,
                max: 100_000
            })
        );
        assert_eq!(
            parse_limit_info("api-usage=18/5000; per-app-api-usage=17/250(appName=sample-app)"),
            Some(ApiUsage {
                used: 18,
                max: 5000
            })
        );
        assert_eq!(
            parse_limit_info("per-app-api-usage=17/250(appName=x); api-usage=1/2"),
            Some(ApiUsage { used: 1, max: 2 })
        );
        assert_eq!(parse_limit_info("api-usage=abc/100"), None);
        assert_eq!(parse_limit_info("api-usage=10"), None);
        assert_eq!(parse_limit_info(""), None);
    }

    #[test]
    fn budget_stops_at_share() {
        let b = Budget::new(0.8).unwrap();
        assert!(b.check().is_ok());
        b.observe(ApiUsage { used: 79, max: 100 });
        assert!(b.check().is_ok());
        b.observe(ApiUsage { used: 80, max: 100 });
        assert!(matches!(
            b.check(),
            Err(Error::BudgetReached {
                used: 80,
                max: 100,
                ..
            })
        ));
        assert!(Budget::new(0.0).is_err());
        assert!(Budget::new(1.5).is_err());
        assert!(Budget::new(f64::NAN).is_err());
    }

    #[test]
    fn parses_limits_body() {
        let body = r#"{"DailyApiRequests":{"Max":15000,"Remaining":14998},
            "DailyBulkApiRequests":{"Max":10000,"Remaining":10000},
            "DailyBulkV2QueryJobs":{"Max":10000,"Remaining":10000},
            "DailyBulkV2QueryFileStorageMB":{"Max":976562,"Remaining":976562},
            "DataStorageMB":{"Max":5,"Remaining":5},"FileStorageMB":{"Max":20,"Remaining":20}}"#;
        let l: Limits = serde_json::from_str(body).unwrap();
        assert_eq!(
            l.daily_api_requests,
            Some(LimitValue {
                max: 15000,
                remaining: 14998
            })
        );
        assert!(l.raw.contains_key("DataStorageMB"));
        let b = Budget::new(0.8).unwrap();
        b.observe_limits(&l);
        assert_eq!(
            b.last(),
            Some(ApiUsage {
                used: 2,
                max: 15000
            })
        );
    }
}
