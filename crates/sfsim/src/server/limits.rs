//! The rolling 24-hour API request counter behind `Sforce-Limit-Info`, `/limits` and
//! `REQUEST_LIMIT_EXCEEDED`, and the Bulk query job counter (`DailyBulkV2QueryJobs`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The window Salesforce counts API requests over.
const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Daily Bulk API 2.0 query jobs allowed (Bulk 2.0 limits page).
pub(crate) const BULK_QUERY_JOBS_MAX: u64 = 10_000;

/// Timestamps of counted calls within the last 24 hours.
#[derive(Debug)]
pub(crate) struct RollingCounter {
    max: u64,
    calls: VecDeque<Instant>,
}

impl RollingCounter {
    pub(crate) fn new(max: u64) -> Self {
        Self {
            max,
            calls: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&first) = self.calls.front() {
            if now.duration_since(first) >= WINDOW {
                self.calls.pop_front();
            } else {
                break;
            }
        }
    }

    /// Counts one call if the limit allows it; `false` when the limit is reached (the refused
    /// call itself is not counted, as Salesforce refuses it before doing any work).
    pub(crate) fn try_count(&mut self, now: Instant) -> bool {
        self.expire(now);
        if self.calls.len() as u64 >= self.max {
            return false;
        }
        self.calls.push_back(now);
        true
    }

    /// Calls counted in the last 24 hours.
    pub(crate) fn used(&mut self, now: Instant) -> u64 {
        self.expire(now);
        self.calls.len() as u64
    }

    pub(crate) fn max(&self) -> u64 {
        self.max
    }
}

/// The `Sforce-Limit-Info` header value.
pub(crate) fn limit_info(used: u64, max: u64) -> String {
    format!("api-usage={used}/{max}")
}

fn pair(max: u64, remaining: u64) -> Value {
    json!({ "Max": max, "Remaining": remaining })
}

/// The `GET /limits` body: the key set of a real org (simple-salesforce's
/// `ORGANIZATION_LIMITS_RESPONSE`), with the API and Bulk query job counters live and the
/// other allocations at a Developer-Edition-like steady state.
pub(crate) fn limits_body(api_used: u64, api_max: u64, bulk_jobs_used: u64) -> Value {
    let api = json!({
        "Max": api_max,
        "Remaining": api_max.saturating_sub(api_used),
        "Ant Migration Tool": pair(0, 0),
        "Chatter Desktop": pair(0, 0),
        "Chatter Mobile for BlackBerry": pair(0, 0),
        "Chatter Mobile for BlackBerry ": pair(0, 0),
        "Dataloader Bulk": pair(0, 0),
        "Dataloader Partner": pair(0, 0),
        "Force.com IDE": pair(0, 0),
        "Salesforce Chatter": pair(0, 0),
        "Salesforce Files": pair(0, 0),
        "Salesforce Mobile Dashboards": pair(0, 0),
        "Salesforce Touch": pair(0, 0),
        "Salesforce for Outlook": pair(0, 0),
        "SalesforceA": pair(0, 0),
        "Workbench": pair(0, 0),
    });
    json!({
        "ConcurrentAsyncGetReportInstances": pair(200, 200),
        "ConcurrentSyncReportRuns": pair(20, 20),
        "DailyAnalyticsDataflowJobExecutions": pair(60, 60),
        "DailyApiRequests": api,
        "DailyAsyncApexExecutions": pair(250_000, 250_000),
        "DailyBulkApiBatches": pair(15_000, 15_000),
        "DailyBulkApiRequests": pair(10_000, 10_000),
        "DailyBulkV2QueryFileStorageMB": pair(976_562, 976_562),
        "DailyBulkV2QueryJobs": pair(BULK_QUERY_JOBS_MAX, BULK_QUERY_JOBS_MAX.saturating_sub(bulk_jobs_used)),
        "DailyDurableGenericStreamingApiEvents": pair(10_000, 10_000),
        "DailyDurableStreamingApiEvents": pair(10_000, 10_000),
        "DailyGenericStreamingApiEvents": pair(10_000, 10_000),
        "DailyStandardVolumePlatformEvents": pair(10_000, 10_000),
        "DailyStreamingApiEvents": pair(10_000, 10_000),
        "DailyWorkflowEmails": pair(390, 390),
        "DataStorageMB": pair(5, 5),
        "DurableStreamingApiConcurrentClients": pair(20, 20),
        "FileStorageMB": pair(20, 20),
        "HourlyAsyncReportRuns": pair(1200, 1200),
        "HourlyDashboardRefreshes": pair(200, 200),
        "HourlyDashboardResults": pair(5000, 5000),
        "HourlyDashboardStatuses": pair(999_999_999, 999_999_999),
        "HourlyODataCallout": pair(10_000, 10_000),
        "HourlyPublishedPlatformEvents": pair(50_000, 50_000),
        "HourlySyncReportRuns": pair(500, 500),
        "HourlyTimeBasedWorkflow": pair(50, 50),
        "MassEmail": pair(10, 10),
        "MonthlyPlatformEvents": pair(4_500_000, 4_500_000),
        "Package2VersionCreates": pair(6, 6),
        "PermissionSets": {
            "Max": 1500, "Remaining": 1499,
            "CreateCustom": pair(1000, 999),
        },
        "SingleEmail": pair(15, 15),
        "StreamingApiConcurrentClients": pair(20, 20),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_refuses_at_the_limit_and_forgets_after_a_day() {
        let mut counter = RollingCounter::new(3);
        let start = Instant::now();
        assert!(counter.try_count(start));
        assert!(counter.try_count(start));
        assert!(counter.try_count(start + Duration::from_secs(3600)));
        assert!(!counter.try_count(start + Duration::from_secs(7200)));
        assert_eq!(counter.used(start + Duration::from_secs(7200)), 3);
        // The first two fall out of the window after 24 h; the third is still in it.
        let later = start + WINDOW + Duration::from_secs(1);
        assert_eq!(counter.used(later), 1);
        assert!(counter.try_count(later));
        assert_eq!(
            limit_info(counter.used(later), counter.max()),
            "api-usage=2/3"
        );
    }
}
