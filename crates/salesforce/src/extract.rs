//! Extraction: reading every record of one object (or one incremental window of it), page by
//! page, so memory is bounded by a page (two for Bulk, see below).
//!
//! - A Bulk job's pages are pipelined: once a page has arrived (its response names the next
//!   page's locator), the next page is requested, and fetched while this one is inflated and
//!   decoded on a blocking thread (`tokio::task::spawn_blocking`). The server prepares page
//!   n+1 while the client decodes page n; at most two pages are held.
//! - Large objects go through Bulk API 2.0 `queryAll`; small ones, objects Bulk refuses
//!   (`INVALIDENTITY`, remembered in [`BulkSupport`] for the rest of the process) and windows
//!   whose Bulk job ends `Failed` go through REST `queryAll`.
//! - REST reads are ordered by `(SystemModstamp, Id)`, so when a query cursor dies
//!   (`INVALID_QUERY_LOCATOR`) the window is re-queried strictly after the last row read: no
//!   row is lost or repeated.
//! - `QUERY_TIMEOUT` splits the unread part of the window in halves, down to a minimum span.
//! - Every error leaves the extraction where it was: after [`Error::BudgetReached`] or
//!   [`Error::LimitExceeded`], save [`Extraction::checkpoint`] and resume later. A REST window
//!   resumes exactly after its cursor; a Bulk window in progress is re-read from its start
//!   (the repository stores each `(Id, SystemModstamp)` version once, so this is idempotent).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::Record;
use crate::api::SalesforceApi;
use crate::bulk::{BulkPage, Locator, RawBulkPage};
use crate::bulk_csv::{CsvDecoder, CsvPage, CsvRecords};
use crate::describe::ObjectPlan;
use crate::error::Error;
use crate::query::DeletedRecords;
use crate::retry::PollPolicy;
use crate::time::Timestamp;
use crate::window::{Cursor, Window, soql_string};

/// How an extraction reads.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Objects with at least this many records (per `/limits/recordCount`) use Bulk.
    pub bulk_threshold: u64,
    /// Read soft-deleted rows too (`queryAll`; default true).
    pub include_deleted: bool,
    /// `maxRecords` per Bulk result page (bounds memory).
    pub bulk_page_records: u32,
    /// Bulk job polling.
    pub poll: PollPolicy,
    /// The smallest window a `QUERY_TIMEOUT` may split into.
    pub min_split: Duration,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            bulk_threshold: 10_000,
            include_deleted: true,
            bulk_page_records: 50_000,
            poll: PollPolicy::default(),
            min_split: Duration::from_secs(1),
        }
    }
}

/// Objects Bulk refused in this process; shared by clones.
#[derive(Debug, Clone, Default)]
pub struct BulkSupport(Arc<Mutex<HashSet<String>>>);

impl BulkSupport {
    /// Whether Bulk refused `object` before.
    pub fn refused(&self, object: &str) -> bool {
        self.0.lock().map(|s| s.contains(object)).unwrap_or(false)
    }

    /// Remembers that Bulk refused `object`.
    pub fn mark_refused(&self, object: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.insert(object.to_owned());
        }
    }
}

/// The read path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Bulk API 2.0.
    Bulk,
    /// REST query.
    Rest,
}

/// Picks the read path for an object.
pub fn choose_method(
    plan: &ObjectPlan,
    record_count: Option<u64>,
    opts: &ExtractOptions,
    support: &BulkSupport,
) -> Method {
    let large = record_count.is_some_and(|n| n >= opts.bulk_threshold);
    if large && !support.refused(&plan.object) {
        Method::Bulk
    } else {
        Method::Rest
    }
}

/// What part of the object to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// A `SystemModstamp` window.
    Window(Window),
    /// Objects without `SystemModstamp`: everything, resumable after an Id.
    All {
        /// Resume strictly after this Id.
        after_id: Option<String>,
    },
}

/// A scope still to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// What to read.
    pub scope: Scope,
    /// Read it with REST even if the object uses Bulk (Bulk failed on it).
    pub rest_only: bool,
}

/// A resumable position: the scopes still to read, the current one first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The object.
    pub object: String,
    /// The read path.
    pub method: Method,
    /// Scopes left, in reading order.
    pub pending: Vec<Pending>,
}

/// Counters for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Records returned.
    pub records: u64,
    /// Pages returned.
    pub pages: u64,
    /// CSV bytes decoded (Bulk).
    pub csv_bytes: u64,
    /// Windows that fell back from Bulk to REST.
    pub bulk_fallbacks: u64,
    /// Window splits after `QUERY_TIMEOUT`.
    pub window_splits: u64,
    /// REST queries restarted after a dead cursor.
    pub cursor_restarts: u64,
}

/// One page of an extraction. Iterating it by value yields its [`Record`]s; a Bulk page builds
/// each record only when the iteration reaches it (see [`CsvPage`]).
#[derive(Debug, Clone)]
pub struct Page(Rows);

#[derive(Debug, Clone)]
enum Rows {
    Rest(Vec<Record>),
    Bulk(CsvPage),
}

impl Page {
    /// Records on the page.
    pub fn len(&self) -> usize {
        match &self.0 {
            Rows::Rest(records) => records.len(),
            Rows::Bulk(page) => page.len(),
        }
    }

    /// Whether the page has no records (never, for a page an extraction returned).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The decoded Bulk page, when the page was read by Bulk: typed values without building
    /// records.
    pub fn as_bulk(&self) -> Option<&CsvPage> {
        match &self.0 {
            Rows::Bulk(page) => Some(page),
            Rows::Rest(_) => None,
        }
    }
}

impl IntoIterator for Page {
    type Item = Record;
    type IntoIter = PageRecords;

    fn into_iter(self) -> PageRecords {
        PageRecords(match self.0 {
            Rows::Rest(records) => RecordsIter::Rest(records.into_iter()),
            Rows::Bulk(page) => RecordsIter::Bulk(page.into_iter()),
        })
    }
}

/// Owning iterator over the [`Record`]s of a [`Page`].
#[derive(Debug, Clone)]
pub struct PageRecords(RecordsIter);

#[derive(Debug, Clone)]
enum RecordsIter {
    Rest(std::vec::IntoIter<Record>),
    Bulk(CsvRecords),
}

impl Iterator for PageRecords {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        match &mut self.0 {
            RecordsIter::Rest(it) => it.next(),
            RecordsIter::Bulk(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            RecordsIter::Rest(it) => it.size_hint(),
            RecordsIter::Bulk(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for PageRecords {}

enum State<'a> {
    Idle,
    BulkWaiting {
        pending: Pending,
        job_id: String,
    },
    BulkPaging {
        pending: Pending,
        job_id: String,
        /// Where the page in `fetch` (or the next one to fetch) starts.
        next: PagePos,
        /// The next page, being fetched while the one before it is decoded.
        fetch: Option<Fetch<'a>>,
        /// The page being decoded.
        decoding: Option<Decoding>,
        /// The job's decoder as of the last page decoded (it remembers the header).
        decoder: Box<CsvDecoder>,
    },
    Rest {
        pending: Pending,
        next: Option<String>,
    },
}

/// Where a Bulk result page starts.
#[derive(Debug, Clone)]
enum PagePos {
    First,
    At(Locator),
    /// The previous page was the last.
    End,
}

impl PagePos {
    fn of(locator: Option<Locator>) -> Self {
        locator.map_or(PagePos::End, PagePos::At)
    }
}

type RawFetch<'a> = Pin<Box<dyn Future<Output = Result<RawBulkPage, Error>> + Send + 'a>>;

/// A result page being fetched, or its outcome once the fetch ended while the previous page
/// was still being decoded.
enum Fetch<'a> {
    Running(RawFetch<'a>),
    Done(Result<RawBulkPage, Error>),
}

impl Fetch<'_> {
    async fn outcome(self) -> Result<RawBulkPage, Error> {
        match self {
            Fetch::Running(fetch) => fetch.await,
            Fetch::Done(outcome) => outcome,
        }
    }
}

/// A page being decoded on a blocking thread, which hands the decoder back with the result.
struct Decoding {
    /// Where the page starts, to fetch it again if decoding fails.
    from: PagePos,
    task: JoinHandle<(Box<CsvDecoder>, Result<BulkPage, Error>)>,
}

/// Awaits `task` while driving `fetch` (the next page), so the next page's request and body
/// transfer overlap the decoding of this one.
async fn decoded(
    task: &mut JoinHandle<(Box<CsvDecoder>, Result<BulkPage, Error>)>,
    fetch: &mut Option<Fetch<'_>>,
) -> Result<(Box<CsvDecoder>, Result<BulkPage, Error>), Error> {
    let joined = loop {
        let Some(Fetch::Running(next)) = fetch else {
            break task.await;
        };
        tokio::select! {
            biased;
            joined = &mut *task => break joined,
            outcome = next => *fetch = Some(Fetch::Done(outcome)),
        }
    };
    joined.map_err(|e| {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        Error::Io(std::io::Error::other("Bulk page decoding was cancelled"))
    })
}

/// Reads one object page by page. Drive it with [`Extraction::next_page`].
pub struct Extraction<'a, A: SalesforceApi + ?Sized> {
    api: &'a A,
    plan: ObjectPlan,
    opts: ExtractOptions,
    support: BulkSupport,
    method: Method,
    /// Stack: the last element is read next.
    stack: Vec<Pending>,
    state: State<'a>,
    stats: ExtractStats,
}

impl<A: SalesforceApi + ?Sized> std::fmt::Debug for Extraction<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extraction")
            .field("object", &self.plan.object)
            .field("method", &self.method)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<'a, A: SalesforceApi + ?Sized> Extraction<'a, A> {
    /// Reads the object's rows with `SystemModstamp` in `window` (or everything, when the
    /// object has no `SystemModstamp`).
    pub fn new(
        api: &'a A,
        plan: ObjectPlan,
        method: Method,
        window: Window,
        opts: ExtractOptions,
        support: BulkSupport,
    ) -> Result<Self, Error> {
        if !plan.queryable {
            return Err(Error::EntityNotSupported {
                object: plan.object.clone(),
                message: "object is not queryable".to_owned(),
            });
        }
        let scope = if plan.has_system_modstamp {
            Scope::Window(window)
        } else {
            Scope::All { after_id: None }
        };
        Ok(Self::from_parts(
            api,
            plan,
            method,
            vec![Pending {
                scope,
                rest_only: false,
            }],
            opts,
            support,
        ))
    }

    /// Resumes from a [`Checkpoint`].
    pub fn resume(
        api: &'a A,
        plan: ObjectPlan,
        checkpoint: Checkpoint,
        opts: ExtractOptions,
        support: BulkSupport,
    ) -> Result<Self, Error> {
        if checkpoint.object != plan.object {
            return Err(Error::Config(format!(
                "checkpoint is for {}, plan is for {}",
                checkpoint.object, plan.object
            )));
        }
        let mut stack = checkpoint.pending;
        stack.reverse();
        Ok(Self::from_parts(
            api,
            plan,
            checkpoint.method,
            stack,
            opts,
            support,
        ))
    }

    fn from_parts(
        api: &'a A,
        plan: ObjectPlan,
        method: Method,
        stack: Vec<Pending>,
        opts: ExtractOptions,
        support: BulkSupport,
    ) -> Self {
        Extraction {
            api,
            plan,
            opts,
            support,
            method,
            stack,
            state: State::Idle,
            stats: ExtractStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ExtractStats {
        self.stats
    }

    /// The read path: the one chosen, or REST once the Bulk API refused the object (known
    /// after [`Self::start`]).
    pub fn method(&self) -> Method {
        self.method
    }

    /// Where to resume if this extraction stops now.
    pub fn checkpoint(&self) -> Checkpoint {
        let mut pending: Vec<Pending> = Vec::with_capacity(self.stack.len() + 1);
        match &self.state {
            State::Idle => {}
            State::BulkWaiting { pending: p, .. }
            | State::BulkPaging { pending: p, .. }
            | State::Rest { pending: p, .. } => pending.push(p.clone()),
        }
        pending.extend(self.stack.iter().rev().cloned());
        Checkpoint {
            object: self.plan.object.clone(),
            method: self.method,
            pending,
        }
    }

    /// Sends what comes before the first page: for a Bulk read, creates the query job and
    /// waits until the org has run it. Nothing is read yet, so this holds no rows: a caller
    /// can start the next objects' reads while earlier ones still take their time (a Bulk job
    /// takes the org seconds to minutes), and call [`Self::next_page`] when it has room for
    /// the rows. Calling it is optional; `next_page` does the same when it has not been.
    ///
    /// # Errors
    /// As [`Self::next_page`]; the extraction can be driven on after an error, as there.
    pub async fn start(&mut self) -> Result<(), Error> {
        while self.setting_up() && self.set_up_step().await? {}
        Ok(())
    }

    /// Whether the next step is a setup step ([`Self::set_up_step`]) rather than a read.
    fn setting_up(&self) -> bool {
        matches!(self.state, State::Idle | State::BulkWaiting { .. })
    }

    /// One step towards reading the next scope: takes it from the stack (creating its Bulk
    /// job) or waits for its Bulk job. False when no scope is left.
    async fn set_up_step(&mut self) -> Result<bool, Error> {
        match &mut self.state {
            State::Idle => {
                let Some(pending) = self.stack.pop() else {
                    return Ok(false);
                };
                let use_bulk = self.method == Method::Bulk
                    && !pending.rest_only
                    && !self.support.refused(&self.plan.object);
                if !use_bulk {
                    self.state = State::Rest {
                        pending,
                        next: None,
                    };
                    return Ok(true);
                }
                let soql = soql(&self.plan, &pending.scope, false);
                match self
                    .api
                    .bulk_create(&self.plan.object, &soql, self.opts.include_deleted)
                    .await
                {
                    Ok(job) => {
                        self.state = State::BulkWaiting {
                            pending,
                            job_id: job.id,
                        };
                    }
                    Err(Error::EntityNotSupported { .. }) => {
                        tracing::info!(object = %self.plan.object, "Bulk API refuses the object; using REST");
                        self.support.mark_refused(&self.plan.object);
                        self.method = Method::Rest;
                        self.state = State::Rest {
                            pending,
                            next: None,
                        };
                    }
                    Err(e) => {
                        self.stack.push(pending);
                        return Err(e);
                    }
                }
            }
            State::BulkWaiting { pending, job_id } => {
                match self.api.bulk_wait(job_id, self.opts.poll).await {
                    Ok(_) => {
                        self.state = State::BulkPaging {
                            pending: pending.clone(),
                            job_id: std::mem::take(job_id),
                            next: PagePos::First,
                            fetch: None,
                            decoding: None,
                            decoder: Box::new(CsvDecoder::new(&self.plan.fields)),
                        };
                    }
                    Err(Error::BulkJobFailed { state, .. }) => {
                        tracing::warn!(object = %self.plan.object, %state, "Bulk job did not complete; reading the window with REST");
                        self.stats.bulk_fallbacks += 1;
                        let mut pending = pending.clone();
                        pending.rest_only = true;
                        self.state = State::Rest {
                            pending,
                            next: None,
                        };
                    }
                    Err(e) => return Err(e),
                }
            }
            State::BulkPaging { .. } | State::Rest { .. } => {}
        }
        Ok(true)
    }

    /// The next page of records, or `None` when the object is read. Pages are never empty.
    pub async fn next_page(&mut self) -> Result<Option<Page>, Error> {
        loop {
            match &mut self.state {
                State::Idle | State::BulkWaiting { .. } => {
                    if !self.set_up_step().await? {
                        return Ok(None);
                    }
                }
                // A page is fetched, then decoded on a blocking thread while the next page is
                // fetched: the server prepares page n+1 while page n is decoded, and memory
                // holds at most two pages. Every step is resumable: a dropped fetch is sent
                // again from `next`, and a failed decode fetches its page again, so no page is
                // skipped whatever fails.
                State::BulkPaging {
                    job_id,
                    next,
                    fetch,
                    decoding,
                    decoder,
                    ..
                } => {
                    if let Some(Decoding { from, task }) = decoding {
                        let joined = decoded(task, fetch).await;
                        let from = from.clone();
                        *decoding = None;
                        let outcome = match joined {
                            Ok((used, outcome)) => {
                                *decoder = used;
                                outcome
                            }
                            Err(e) => Err(e),
                        };
                        let page = match outcome {
                            Ok(page) => page,
                            Err(e) => {
                                *fetch = None;
                                *next = from;
                                return Err(e);
                            }
                        };
                        self.stats.csv_bytes += page.csv_bytes;
                        if page.records.is_empty() {
                            continue;
                        }
                        self.stats.pages += 1;
                        self.stats.records += page.records.len() as u64;
                        return Ok(Some(Page(Rows::Bulk(page.records))));
                    }
                    let this = match fetch.take() {
                        Some(fetch) => fetch,
                        None => match next {
                            PagePos::End => {
                                self.finish_bulk().await;
                                continue;
                            }
                            PagePos::First | PagePos::At(_) => Fetch::Running(fetch_page(
                                self.api,
                                job_id,
                                next,
                                self.opts.bulk_page_records,
                            )),
                        },
                    };
                    let raw = this.outcome().await?;
                    let from = std::mem::replace(next, PagePos::of(raw.next.clone()));
                    if let PagePos::At(_) = next {
                        *fetch = Some(Fetch::Running(fetch_page(
                            self.api,
                            job_id,
                            next,
                            self.opts.bulk_page_records,
                        )));
                    }
                    let mut job_decoder = decoder.clone();
                    let task = tokio::task::spawn_blocking(move || {
                        let outcome = raw.decode(&mut job_decoder);
                        (job_decoder, outcome)
                    });
                    *decoding = Some(Decoding { from, task });
                }
                State::Rest { pending, next } => {
                    let result = match next {
                        Some(url) => self.api.query_more(url).await,
                        None => {
                            let soql = soql(&self.plan, &pending.scope, true);
                            self.api.query(&soql, self.opts.include_deleted).await
                        }
                    };
                    match result {
                        Ok(page) => {
                            if let Some(last) = page.records.last() {
                                advance(&mut pending.scope, last);
                            }
                            match page.next_records_url {
                                Some(url) => *next = Some(url),
                                None => self.state = State::Idle,
                            }
                            if page.records.is_empty() {
                                continue;
                            }
                            self.stats.pages += 1;
                            self.stats.records += page.records.len() as u64;
                            return Ok(Some(Page(Rows::Rest(page.records))));
                        }
                        Err(Error::Api { code, .. })
                            if code == "INVALID_QUERY_LOCATOR" && next.is_some() =>
                        {
                            tracing::info!(object = %self.plan.object, "query cursor expired; re-querying after the last row read");
                            self.stats.cursor_restarts += 1;
                            *next = None;
                        }
                        Err(Error::QueryTimeout { message }) => {
                            let halves = match &pending.scope {
                                Scope::Window(w) => w.split(self.opts.min_split),
                                Scope::All { .. } => None,
                            };
                            let Some((first, second)) = halves else {
                                return Err(Error::QueryTimeout { message });
                            };
                            tracing::info!(object = %self.plan.object, "QUERY_TIMEOUT; splitting the window");
                            self.stats.window_splits += 1;
                            self.stack.push(Pending {
                                scope: Scope::Window(second),
                                rest_only: true,
                            });
                            self.stack.push(Pending {
                                scope: Scope::Window(first),
                                rest_only: true,
                            });
                            self.state = State::Idle;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    async fn finish_bulk(&mut self) {
        if let State::BulkPaging { job_id, .. } = &self.state {
            // Results expire by themselves in 7 days; deleting early only frees storage.
            if let Err(e) = self.api.bulk_delete(job_id).await {
                tracing::debug!(error = %e, "could not delete finished Bulk job");
            }
        }
        self.state = State::Idle;
    }
}

/// Starts fetching the page at `pos` (`First` or `At`) of `job_id`.
fn fetch_page<'a, A: SalesforceApi + ?Sized>(
    api: &'a A,
    job_id: &str,
    pos: &PagePos,
    max_records: u32,
) -> RawFetch<'a> {
    let job_id = job_id.to_owned();
    let locator = match pos {
        PagePos::At(l) => Some(l.clone()),
        PagePos::First | PagePos::End => None,
    };
    Box::pin(async move {
        api.bulk_results_raw(&job_id, locator.as_ref(), max_records)
            .await
    })
}

fn soql(plan: &ObjectPlan, scope: &Scope, ordered: bool) -> String {
    let mut q = plan.select();
    match scope {
        Scope::Window(w) => {
            q.push_str(" WHERE ");
            q.push_str(&w.condition());
            if ordered {
                q.push_str(" ORDER BY SystemModstamp, Id");
            }
        }
        Scope::All { after_id } => {
            if let Some(id) = after_id {
                q.push_str(" WHERE Id > ");
                q.push_str(&soql_string(id));
            }
            if ordered {
                q.push_str(" ORDER BY Id");
            }
        }
    }
    q
}

fn advance(scope: &mut Scope, last: &Record) {
    match scope {
        Scope::Window(w) => {
            if let Some(c) = Cursor::of(last) {
                *w = w.resumed(c);
            }
        }
        Scope::All { after_id } => {
            if let Some(id) = last.get("Id").and_then(|v| v.as_str()) {
                *after_id = Some(id.to_owned());
            }
        }
    }
}

/// Reads `getDeleted` from `since` to `end`, and reports [`Error::FullResyncRequired`] when the
/// delete history no longer reaches back to `since`.
pub async fn deleted_since<A: SalesforceApi + ?Sized>(
    api: &A,
    object: &str,
    since: Timestamp,
    end: Timestamp,
) -> Result<DeletedRecords, Error> {
    // The API ignores seconds; start at the minute so nothing in it is skipped.
    let start = Timestamp(since.millis() - since.millis().rem_euclid(60_000));
    match api.deleted(object, start, end).await {
        // `>=`, not `>`: at minute granularity a history starting in the cursor's own minute
        // may already have lost deletes made in that minute. A needless resync costs time; a
        // missed delete costs a wrong backup.
        Ok(d) if d.earliest_date_available >= start => Err(Error::FullResyncRequired {
            object: object.to_owned(),
        }),
        Ok(d) => Ok(d),
        Err(Error::Api { code, .. }) if code == "INVALID_REPLICATION_DATE" => {
            Err(Error::FullResyncRequired {
                object: object.to_owned(),
            })
        }
        Err(e) => Err(e),
    }
}
