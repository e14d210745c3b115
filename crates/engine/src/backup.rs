//! Backup: an org, read through `coffer-salesforce`, into one snapshot of the repository.
//!
//! Each object is read with the connector's resumable [`Extraction`] (Bulk API 2.0 for large
//! objects, REST `queryAll` otherwise, soft deletes included): the whole object on the first
//! run and after `full_every`, otherwise the `SystemModstamp` window since the previous run's
//! end (with the connector's overlap lookback). Versions the repository already holds —
//! the same `(Id, SystemModstamp)` — are dropped, so the overlap costs nothing. File bodies of
//! new versions are downloaded and stored once per content. Nothing is visible until the
//! snapshot commits; a failed run leaves the previous snapshot as it was.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_salesforce::{
    BulkSupport, ExtractOptions, Extraction, Method, ObjectPlan, Record, SalesforceApi, Timestamp,
    Window, extract,
};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::repo::index::{EntryKind, RecordId};
use crate::repo::manifest::{ObjectState, RunKind, Watermark};
use crate::repo::record::{BulkLayout, canonical};
use crate::repo::{FinishedObject, ObjectWriter, OrgRepo, SnapshotWriter};
use crate::slots::ReadSlots;

/// Objects a backup reads at once by default: two cores keep three objects busy (one waits
/// on the org while the others compress).
pub const DEFAULT_PARALLEL_OBJECTS: u16 = 3;

/// How a backup runs.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Objects to back up; `None`: every queryable object the org describes.
    pub objects: Option<Vec<String>>,
    /// How the connector reads.
    pub extract: ExtractOptions,
    /// Incremental windows start this long before the previous run's end.
    pub lookback: Duration,
    /// An object is read in full again when its last full read is older than this.
    pub full_every: Duration,
    /// Largest file body downloaded (bigger ones fail the run with a typed error).
    pub max_blob_bytes: u64,
    /// Told how each object's read goes (progress bars); `None`: nobody is told.
    pub progress: Option<ProgressSink>,
    /// Objects read at once (at least 1). Each holds a page, a block and a pack in memory, and
    /// makes its own API calls: the API budget (`ExtractOptions`) bounds them all together.
    /// Three times as many more objects prepare their reads meanwhile (API calls only:
    /// describe, record count, and the org running a Bulk job), and the largest prepared read
    /// takes the next free slot.
    pub parallel_objects: usize,
}

/// Hears how a backup goes, object by object (the CLI draws progress bars from it). Each object
/// is read on its own task, so calls for different objects can come at once from different
/// threads; for one object they come in order: `started`, any number of `advanced`, then
/// `finished` (a run that fails stops calling). Implementations must be quick: they run
/// between pages.
pub trait Progress: Send + Sync {
    /// The read of `object` starts; the org reports about `expected` records (`None` when it
    /// did not say).
    fn started(
        &self,
        object: &str,
        expected: Option<u64>,
        read: &'static str,
        method: &'static str,
    );
    /// Totals so far for `object`: rows the org returned and plaintext bytes stored.
    fn advanced(&self, object: &str, records_seen: u64, logical_bytes: u64);
    /// The read of `object` is done.
    fn finished(&self, object: &str, summary: &ObjectSummary);
}

/// A shared [`Progress`] in [`BackupOptions`].
#[derive(Clone)]
pub struct ProgressSink(pub Arc<dyn Progress>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

impl Default for BackupOptions {
    fn default() -> Self {
        Self {
            objects: None,
            // Pages of 2,500 rows: the connector holds up to two pages (one fetched while the
            // other decodes, each as gzip, as text and as rows), so the page, not the org, sets
            // a backup's memory; at 50,000 rows an org whose objects fill whole pages needed
            // twice the memory of one whose objects did not, 10,000-row pages were 27 MB of the
            // heap at a 4x org's peak, and 2,500-row pages took the 4x org's peak from 91-94 to
            // 85-86 MiB against 5,000 (benches/peers).
            extract: ExtractOptions {
                bulk_page_records: 2_500,
                ..ExtractOptions::default()
            },
            lookback: coffer_salesforce::window::DEFAULT_LOOKBACK,
            full_every: Duration::from_secs(7 * 86_400),
            max_blob_bytes: 512 * 1024 * 1024,
            progress: None,
            parallel_objects: usize::from(DEFAULT_PARALLEL_OBJECTS),
        }
    }
}

/// What one object's read did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectSummary {
    /// `full` or `incremental`; `resumed` when the run that died and that this run continues
    /// had finished the object: it is read incrementally from that run's watermark, and its
    /// counts are what this run added.
    pub read: &'static str,
    /// `bulk` or `rest`.
    pub method: &'static str,
    /// Rows the org returned.
    pub records_seen: u64,
    /// Versions stored (new or changed rows, deletes included).
    pub new_records: u64,
    /// Live records after the run.
    pub live: u64,
    /// File bodies the rows named.
    pub blobs_seen: u64,
    /// File bodies stored for the first time.
    pub new_blobs: u64,
    /// Records found gone by a full read (purged from the org since they were stored).
    pub gone: u64,
    /// Plaintext bytes stored: canonical records and new file bodies, before compression.
    pub logical_bytes: u64,
    /// Wall time of the object's read and store, milliseconds: from its describe call to its
    /// index being stored, without the time it waited for a read slot.
    pub duration_ms: u64,
}

/// What a backup did: the `--json` summary of `coffer backup`.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSummary {
    /// The org's name in the repository.
    pub org: String,
    /// The Salesforce org id.
    pub org_id: String,
    /// The committed snapshot.
    pub snapshot: u64,
    /// How the run read the org (incremental if any object was read incrementally).
    pub kind: RunKind,
    /// Rows the org returned.
    pub records_seen: u64,
    /// File bodies the rows named.
    pub blobs_seen: u64,
    /// Versions stored.
    pub new_records: u64,
    /// File bodies stored for the first time.
    pub new_blobs: u64,
    /// Bytes written to the store.
    pub bytes_added: u64,
    /// Wall time, milliseconds.
    pub duration_ms: u64,
    /// Per object.
    pub objects: BTreeMap<String, ObjectSummary>,
}

fn now_ms() -> i64 {
    Timestamp::now().millis()
}

/// Backs up the org behind `api` into `org` (see the module doc). `api` is shared by the
/// objects' reads, each of which runs on its own task.
pub async fn backup<A: SalesforceApi + ?Sized + 'static>(
    api: &Arc<A>,
    org: &OrgRepo,
    instance_url: &str,
    api_version: &str,
    options: &BackupOptions,
) -> Result<BackupSummary> {
    let started = Instant::now();
    let started_ms = now_ms();
    let mut run_id = [0u8; 16];
    getrandom::fill(&mut run_id).map_err(|_| Error::Crypto("generating the run id"))?;
    let run_id = hex::encode(run_id);

    let objects = match &options.objects {
        Some(list) => list.clone(),
        None => api
            .describe_global()
            .await
            .map_err(sf)?
            .sobjects
            .into_iter()
            .filter(|o| o.queryable)
            .map(|o| o.name)
            .collect(),
    };
    // A run that died on top of the newest snapshot is continued: the objects it finished
    // are not read again.
    let mut writer = match SnapshotWriter::resume(org).await? {
        Some(writer) => writer,
        None => {
            let parent = org.latest().await?;
            // A run is full the first time, a reconciliation when every object is due for a
            // full read, and incremental otherwise.
            let kind = match &parent {
                None => RunKind::Full,
                Some(p)
                    if objects
                        .iter()
                        .all(|o| full_read_due(p.objects.get(o), options)) =>
                {
                    RunKind::Reconcile
                }
                Some(_) => RunKind::Incremental,
            };
            SnapshotWriter::begin(org, kind, run_id, started_ms).await?
        }
    };
    let support = BulkSupport::default();
    // One download budget for the run, whatever number of objects read at once.
    let budget = Arc::new(Semaphore::new(BLOB_BUDGET_KIB as usize));
    // The window ends now; the next run starts here (minus the lookback), whatever stamps the
    // org hands out, so a clock difference between us and the org loses nothing.
    let end = Timestamp::now();
    // Writers for every object up front (cheap: stored versions load when a read starts).
    // An object the continued run finished is not read again in full: its state carries that
    // run's watermark, so it is read incrementally from there, which stores only what changed
    // since (the org kept changing while no run was going).
    let mut jobs = Vec::with_capacity(objects.len());
    for object in &objects {
        jobs.push((writer.is_finished(object), writer.object_writer(object)?));
    }
    // Several objects at a time, each on its own task: one waits on the org while another
    // turns rows into records and a third compresses, on as many cores as there are, and file
    // objects (a request per body) overlap record objects. Each finished object is recorded
    // (journal) as it comes; the first failure stops the run, and its reads under way are
    // cancelled and waited for: their tasks have ended when it returns (a store write already
    // handed to a blocking thread may still land, a content-named object nothing names).
    //
    // Four times as many objects as read at once are under way: those without a read slot
    // have the org prepare their reads meanwhile (a Bulk job takes the org seconds to
    // minutes), and a freed slot goes to the largest prepared read (`read_cost`), so the
    // longest reads start first and a run does not end on one of them alone.
    let shared = Arc::new(options.clone());
    let parallel = options.parallel_objects.max(1);
    let slots = ReadSlots::new(parallel);
    let mut jobs = jobs.into_iter();
    let mut reads = tokio::task::JoinSet::new();
    // Which object each task under way reads, to name it if the task panics.
    let mut reading: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut summaries = BTreeMap::new();
    let outcome = async {
        loop {
            while reads.len() < PREPARED_PER_SLOT * parallel {
                let Some((resumed, object_writer)) = jobs.next() else {
                    break;
                };
                let (api, options, support, budget, slots) = (
                    api.clone(),
                    shared.clone(),
                    support.clone(),
                    budget.clone(),
                    slots.clone(),
                );
                let object = object_writer.object().to_owned();
                let task = reads.spawn(async move {
                    let (mut summary, done) = back_up_object(
                        &*api,
                        object_writer,
                        end,
                        &options,
                        &support,
                        &budget,
                        &slots,
                    )
                    .await?;
                    if resumed {
                        summary.read = "resumed";
                    }
                    if let Some(progress) = &options.progress {
                        progress.0.finished(done.object(), &summary);
                    }
                    Ok::<_, Error>((summary, done))
                });
                reading.insert(task.id(), object);
            }
            let Some(joined) = reads.join_next_with_id().await else {
                return Ok::<_, Error>(());
            };
            let (id, outcome) = joined.map_err(|e| {
                let object = reading.remove(&e.id()).unwrap_or_default();
                // Not the panic's message: it can quote what was being read (the panic hook
                // has printed it already).
                Error::Worker(if e.is_panic() {
                    format!("the read of {object} panicked")
                } else {
                    format!("the read of {object} stopped: {e}")
                })
            })?;
            reading.remove(&id);
            let (summary, done) = outcome?;
            let object = done.object().to_owned();
            writer.finish(done).await?;
            summaries.insert(object, summary);
        }
    }
    .await;
    if let Err(e) = outcome {
        reads.shutdown().await;
        return Err(e);
    }
    let (blobs_seen, new_blobs) = summaries
        .values()
        .fold((0, 0), |(s, n), o: &ObjectSummary| {
            (s + o.blobs_seen, n + o.new_blobs)
        });
    let manifest = writer
        .commit(org.org_id(), instance_url, api_version, now_ms())
        .await?;
    Ok(BackupSummary {
        org: org.name().to_owned(),
        org_id: org.org_id().to_owned(),
        snapshot: manifest.seq,
        kind: manifest.kind,
        records_seen: summaries.values().map(|o| o.records_seen).sum(),
        blobs_seen,
        new_records: summaries.values().map(|o| o.new_records).sum(),
        new_blobs,
        bytes_added: manifest.bytes_added,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        objects: summaries,
    })
}

/// Objects under way (preparing or reading) per read slot.
const PREPARED_PER_SLOT: usize = 4;

/// A file body is fetched with a request of its own: its read costs about as much as ten
/// records' (benches/peers: 2,996 Attachments with their bodies read longer than 37,450
/// Contacts).
const FILE_COST_IN_RECORDS: u64 = 10;

/// The estimated cost of reading an object, to start the longest reads first: its record
/// count (0 when unknown), each file body counted as [`FILE_COST_IN_RECORDS`] records.
fn read_cost(records: Option<u64>, plan: &ObjectPlan) -> u64 {
    let files = u64::try_from(plan.blob_fields.len()).unwrap_or(u64::MAX);
    records
        .unwrap_or(0)
        .saturating_mul(files.saturating_mul(FILE_COST_IN_RECORDS).saturating_add(1))
}

/// A connector failure as an engine error.
fn sf(e: coffer_salesforce::Error) -> Error {
    Error::Salesforce(Box::new(e))
}

/// Reads one object and writes it through its own writer: its summary, and what it stored.
/// The read itself (rows, and the memory they take) waits for one of the run's read `slots`;
/// what comes before it (describe, record count, the org preparing a Bulk job) does not.
async fn back_up_object<A: SalesforceApi + ?Sized>(
    api: &A,
    mut writer: ObjectWriter,
    end: Timestamp,
    options: &BackupOptions,
    support: &BulkSupport,
    budget: &Semaphore,
    slots: &Arc<ReadSlots>,
) -> Result<(ObjectSummary, FinishedObject)> {
    let started = Instant::now();
    let object = writer.object().to_owned();
    let object = object.as_str();
    let describe = api.describe(object).await.map_err(sf)?;
    let plan = ObjectPlan::from_describe(&describe);
    let previous = writer.previous().cloned();
    let full_due = full_read_due(previous.as_ref(), options);
    let window = match (&previous, full_due) {
        (Some(p), false) => {
            let since = p.watermark.as_ref().map_or(0, |w| w.stamp_ms);
            Window::incremental(Timestamp(since), end, options.lookback)
        }
        _ => Window::full(end),
    };
    let count = api.record_count(object).await.map_err(sf)?;
    let method = extract::choose_method(&plan, count, &options.extract, support);
    let mut extraction = Extraction::new(
        api,
        plan.clone(),
        method,
        window,
        options.extract.clone(),
        support.clone(),
    )
    .map_err(sf)?;
    // The org prepares the read (a Bulk job runs) while other objects are read; the rows,
    // and the memory they take, wait until this object has a read slot.
    extraction.start().await.map_err(sf)?;
    let waiting = Instant::now();
    let _slot = slots.acquire(read_cost(count, &plan)).await?;
    let waited = waiting.elapsed();
    // Even a full read compares with what is stored, so unchanged records are not stored again.
    writer.load_known().await?;
    // Only a full read of an object with stored records can find records gone.
    let track_seen = full_due && writer.known_records().next().is_some();
    let mut order: Vec<String> = plan.fields.iter().map(|f| f.name.clone()).collect();
    order.extend(plan.blob_fields.iter().cloned());
    let mut summary = ObjectSummary {
        read: if full_due { "full" } else { "incremental" },
        // As read: REST when the Bulk API refused the object (`start` asked it).
        method: match extraction.method() {
            Method::Bulk => "bulk",
            Method::Rest => "rest",
        },
        ..ObjectSummary::default()
    };
    if let Some(progress) = &options.progress {
        progress
            .0
            .started(object, count, summary.read, summary.method);
    }
    // Ids a full read returned (queryAll: deleted rows included), to find the records that
    // vanished from the org since they were stored (a first read keeps none).
    let mut seen_in_full: HashSet<RecordId> = HashSet::new();
    let mut last_id = String::new();
    let mut rows = RowSink {
        api,
        writer: &mut writer,
        object,
        blob_fields: &plan.blob_fields,
        options,
        budget,
        track_seen,
        summary: &mut summary,
        seen_in_full: &mut seen_in_full,
        last_id: &mut last_id,
    };
    // The Bulk layout depends only on the job's columns, which every page of a job shares.
    let mut layout: Option<(Vec<String>, BulkLayout)> = None;
    while let Some(page) = extraction.next_page().await.map_err(sf)? {
        if let Some(csv) = page.as_bulk() {
            if layout
                .as_ref()
                .is_none_or(|(c, _)| !c.iter().map(String::as_str).eq(csv.columns()))
            {
                let columns: Vec<String> = csv.columns().map(str::to_owned).collect();
                let l = BulkLayout::new(object, csv.columns(), &order, &plan.blob_fields)?;
                layout = Some((columns, l));
            }
            let Some((_, layout)) = &layout else { continue };
            // Which rows are new versions, then their file bodies (fetched concurrently),
            // then their canonical bytes, in row order: a slice of the page at a time, so
            // what an admitted row holds meanwhile (its key, a JSON object per file body it
            // names) is not held for a whole page at once.
            let mut cells = Vec::new();
            let mut page_rows = csv.rows();
            loop {
                let slice: Vec<_> = page_rows.by_ref().take(ROWS_AT_ONCE).collect();
                if slice.is_empty() {
                    break;
                }
                let mut admitted = Vec::with_capacity(slice.len());
                for row in slice {
                    cells.clear();
                    cells.extend(row.values());
                    let (id, stamp_ms, deleted) = layout
                        .identity(&cells)
                        .map_err(|reason| bad_row(object, reason))?;
                    if let Some(id) = rows.admit(id, stamp_ms)? {
                        admitted.push(Admitted {
                            row,
                            id,
                            stamp_ms,
                            deleted,
                        });
                    }
                }
                let bodies = rows.fetch_blobs(&admitted).await?;
                for (a, blobs) in admitted.into_iter().zip(bodies) {
                    cells.clear();
                    cells.extend(a.row.values());
                    let bytes = layout.canonical(&cells, &blobs)?;
                    rows.store(a.id, a.stamp_ms, a.deleted, bytes).await?;
                }
            }
        } else {
            let mut admitted = Vec::new();
            for record in page {
                let (id, stamp_ms, deleted) = identity(object, &record)?;
                if let Some(id) = rows.admit(&id, stamp_ms)? {
                    admitted.push(Admitted {
                        row: record,
                        id,
                        stamp_ms,
                        deleted,
                    });
                }
            }
            let bodies = rows.fetch_blobs(&admitted).await?;
            for (mut a, blobs) in admitted.into_iter().zip(bodies) {
                for (field, value) in plan.blob_fields.iter().zip(blobs) {
                    if let Some(value) = value {
                        a.row.insert(field.clone(), value);
                    }
                }
                let bytes = canonical(object, &a.row, &order)?;
                rows.store(a.id, a.stamp_ms, a.deleted, bytes).await?;
            }
        }
        if let Some(progress) = &options.progress {
            progress.0.advanced(
                object,
                rows.summary.records_seen,
                rows.summary.logical_bytes,
            );
        }
    }
    // The connector's page buffers go before the object is finished (its index built).
    drop(extraction);
    if full_due {
        if track_seen {
            summary.gone = record_gone(api, &mut writer, object, &seen_in_full, end).await?;
        }
        writer.mark_full_read();
    }
    summary.live = writer.live_count()?;
    let watermark = Watermark {
        stamp_ms: end.millis(),
        id: last_id,
    };
    let done = writer.finish(Some(watermark), summary.live).await?;
    summary.duration_ms =
        u64::try_from(started.elapsed().saturating_sub(waited).as_millis()).unwrap_or(u64::MAX);
    Ok((summary, done))
}

/// A row that is a version the repository lacks (a REST record or a Bulk row), with its key.
struct Admitted<R> {
    row: R,
    id: RecordId,
    stamp_ms: i64,
    deleted: bool,
}

/// What happens to each row an object's read returns, REST record or Bulk row alike.
struct RowSink<'r, A: SalesforceApi + ?Sized> {
    api: &'r A,
    writer: &'r mut ObjectWriter,
    object: &'r str,
    blob_fields: &'r [String],
    options: &'r BackupOptions,
    /// The run's download budget.
    budget: &'r Semaphore,
    /// Whether to keep the Ids read (`seen_in_full`).
    track_seen: bool,
    summary: &'r mut ObjectSummary,
    seen_in_full: &'r mut HashSet<RecordId>,
    last_id: &'r mut String,
}

impl<A: SalesforceApi + ?Sized> RowSink<'_, A> {
    /// Counts a row and decides whether it is a version the repository lacks: its Id if so.
    fn admit(&mut self, id: &str, stamp_ms: i64) -> Result<Option<RecordId>> {
        self.summary.records_seen += 1;
        let rid = RecordId::parse(id)?;
        if self.track_seen {
            self.seen_in_full.insert(rid);
        }
        self.last_id.clear();
        self.last_id.push_str(id);
        Ok(self
            .writer
            .newest(&rid)
            .is_none_or(|(stamp, _)| stamp < stamp_ms)
            .then_some(rid))
    }

    /// Stores the file bodies of admitted rows, several downloads at a time (each waits on
    /// the previous ones only through the shared memory budget, and a body holds its share
    /// until it is packed), and returns per row the values of the blob fields in
    /// `blob_fields` order (`None` for a deleted row, whose bodies the org no longer serves).
    async fn fetch_blobs<R>(&mut self, rows: &[Admitted<R>]) -> Result<Vec<Vec<Option<Value>>>> {
        if self.blob_fields.is_empty() {
            return Ok(vec![Vec::new(); rows.len()]);
        }
        let (api, object, options, budget) = (self.api, self.object, self.options, self.budget);
        let fields = self.blob_fields;
        // Owned (Id, field number) pairs: a stream over borrowed rows would make the future
        // of an object's read lose `Send` (rust-lang/rust#102211), and each read is a task.
        let jobs: Vec<(RecordId, usize)> = rows
            .iter()
            .filter(|a| !a.deleted)
            .flat_map(|a| (0..fields.len()).map(move |f| (a.id, f)))
            .collect();
        let mut stored = futures::stream::iter(jobs)
            .map(|(id, f)| async move {
                let field = fields.get(f).map_or("", String::as_str);
                download_blob(api, object, id.as_str(), field, options, budget).await
            })
            .buffered(BLOB_CONCURRENCY);
        let mut out = Vec::with_capacity(rows.len());
        for a in rows {
            let mut values = Vec::with_capacity(self.blob_fields.len());
            for _ in self.blob_fields {
                if a.deleted {
                    values.push(None);
                    continue;
                }
                let Some(result) = stored.next().await else {
                    return Err(Error::InvalidArgument("a file body went missing".into()));
                };
                let (body, held) = result?;
                let size = body.len() as u64;
                let (name, new) = self.writer.add_blob(body).await?;
                drop(held);
                self.summary.blobs_seen += 1;
                if new {
                    self.summary.new_blobs += 1;
                    self.summary.logical_bytes += size;
                }
                values.push(Some(json!({"coffer:blob": name, "size": size})));
            }
            out.push(values);
        }
        Ok(out)
    }

    /// Queues the canonical bytes of an admitted row.
    async fn store(
        &mut self,
        id: RecordId,
        stamp_ms: i64,
        deleted: bool,
        bytes: Vec<u8>,
    ) -> Result<()> {
        let bytes_len = bytes.len() as u64;
        self.writer
            .add_version(id, stamp_ms, deleted, bytes)
            .await?;
        self.summary.new_records += 1;
        self.summary.logical_bytes += bytes_len;
        Ok(())
    }
}

/// Whether `object` (its state in the parent snapshot, if any) is read in full this run: the
/// first time, and every `full_every` since its last full read (reconciliation).
fn full_read_due(previous: Option<&ObjectState>, options: &BackupOptions) -> bool {
    previous.is_none_or(|p| {
        p.watermark.is_none()
            || p.last_full_ms.is_none_or(|t| {
                now_ms().saturating_sub(t)
                    >= i64::try_from(options.full_every.as_millis()).unwrap_or(i64::MAX)
            })
    })
}

/// After a full read: stores a `gone` entry for each record stored as live or deleted that
/// the read did not return and that the org no longer has at all (purged from the Recycle Bin
/// or hard-deleted). A record the read missed only because it changed after the window's end
/// still exists, so each candidate is confirmed absent by Id (queryAll, 200 Ids per query)
/// before it is declared gone. Returns how many were.
async fn record_gone<A: SalesforceApi + ?Sized>(
    api: &A,
    writer: &mut ObjectWriter,
    object: &str,
    seen: &HashSet<RecordId>,
    end: Timestamp,
) -> Result<u64> {
    let candidates: Vec<(RecordId, i64)> = writer
        .known_records()
        .filter(|(id, (_, kind))| *kind != EntryKind::Gone && !seen.contains(*id))
        .map(|(id, (stamp, _))| (*id, stamp))
        .collect();
    let mut gone = 0;
    for chunk in candidates.chunks(200) {
        let ids: Vec<String> = chunk.iter().map(|(id, _)| format!("'{id}'")).collect();
        let soql = format!("SELECT Id FROM {object} WHERE Id IN ({})", ids.join(","));
        let mut present: HashSet<String> = HashSet::new();
        let mut page = api.query(&soql, true).await.map_err(sf)?;
        loop {
            for record in &page.records {
                if let Some(Value::String(id)) = record.get("Id") {
                    present.insert(id.clone());
                }
            }
            match page.next_records_url.take() {
                Some(next) => page = api.query_more(&next).await.map_err(sf)?,
                None => break,
            }
        }
        for &(id, stamp) in chunk {
            if !present.contains(id.as_str()) {
                // The entry is dated by the run (it was found gone then), and always after the
                // version it ends.
                writer.add_gone(id, end.millis().max(stamp + 1)).await?;
                gone += 1;
            }
        }
    }
    Ok(gone)
}

/// A row from the org the engine cannot version.
fn bad_row(object: &str, reason: &str) -> Error {
    Error::Corrupt {
        what: format!("a {object} row from the org"),
        reason: reason.to_owned(),
    }
}

/// Id, SystemModstamp (ms) and IsDeleted of a row.
fn identity(object: &str, record: &Record) -> Result<(String, i64, bool)> {
    let bad = |what: &str| bad_row(object, what);
    let id = record
        .get("Id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no Id"))?
        .to_owned();
    let stamp = match record.get("SystemModstamp") {
        Some(Value::String(s)) => Timestamp::parse(s)
            .ok_or_else(|| bad("SystemModstamp is not a datetime"))?
            .millis(),
        // Objects without SystemModstamp are versioned by nothing better than the read.
        _ => 0,
    };
    let deleted = record
        .get("IsDeleted")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((id, stamp, deleted))
}

/// Rows of a Bulk page admitted, then stored, at once (see `back_up_object`): enough to keep
/// the downloads of a file object's bodies going, few enough that their references (JSON
/// values) stay small next to the page.
const ROWS_AT_ONCE: usize = 1000;
/// File bodies downloaded at once.
const BLOB_CONCURRENCY: usize = 8;
/// Memory the bodies being downloaded may hold together, KiB: a body holds its size (from
/// `Content-Length`) of it, or all of it when the size is unknown or larger, so memory stays
/// bounded by this budget or by one body, whichever is larger.
const BLOB_BUDGET_KIB: u32 = 64 * 1024;

/// Downloads a file body; returns it with its share of the download budget.
async fn download_blob<'b, A: SalesforceApi + ?Sized>(
    api: &A,
    object: &str,
    id: &str,
    field: &str,
    options: &BackupOptions,
    budget: &'b Semaphore,
) -> Result<(Vec<u8>, tokio::sync::SemaphorePermit<'b>)> {
    let stream = api.download_blob(object, id, field).await.map_err(sf)?;
    let kib = stream.content_length.map_or(BLOB_BUDGET_KIB, |n| {
        u32::try_from(n.div_ceil(1024)).map_or(BLOB_BUDGET_KIB, |k| k.clamp(1, BLOB_BUDGET_KIB))
    });
    // The semaphore is never closed, so acquiring only waits.
    let held = budget
        .acquire_many(kib)
        .await
        .map_err(|_| Error::InvalidArgument("the download budget was closed".into()))?;
    let mut body = Vec::new();
    // Room for the body as announced (and one byte more, for the read that finds its end)
    // rather than copies as it doubles. Only room: an announced length that cannot be
    // reserved is no reason to fail, the body grows as it comes.
    if let Some(len) = stream.content_length {
        let room = len.min(options.max_blob_bytes).saturating_add(1);
        let _ = body.try_reserve_exact(usize::try_from(room).unwrap_or(usize::MAX));
    }
    stream
        .reader
        .take(options.max_blob_bytes + 1)
        .read_to_end(&mut body)
        .await
        .map_err(|e| Error::InvalidArgument(format!("reading {object} {id} {field}: {e}")))?;
    if body.len() as u64 > options.max_blob_bytes {
        return Err(Error::InvalidArgument(format!(
            "{object} {id} {field} is larger than {} bytes",
            options.max_blob_bytes
        )));
    }
    Ok((body, held))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_reads_rest_and_bulk_rows() {
        let rest: Record = serde_json::from_str(
            r#"{"Id":"001000000000001AAA","SystemModstamp":"2020-10-22T21:03:23.000+0000","IsDeleted":true}"#,
        )
        .unwrap();
        let (id, stamp, deleted) = identity("Account", &rest).unwrap();
        assert_eq!(
            (id.as_str(), stamp, deleted),
            ("001000000000001AAA", 1_603_400_603_000, true)
        );
        let no_id: Record = serde_json::from_str(r#"{"Name":"x"}"#).unwrap();
        assert!(identity("Account", &no_id).is_err());
        let bad_stamp: Record =
            serde_json::from_str(r#"{"Id":"001000000000001AAA","SystemModstamp":"yesterday"}"#)
                .unwrap();
        assert!(identity("Account", &bad_stamp).is_err());
    }
}
