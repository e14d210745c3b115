//! The seeded generator of a realistic org.
//!
//! [`Org::generate`] turns a seed and a record count into Users, Accounts, Contacts,
//! Opportunities, Cases, Tasks, a custom `Project__c` (master-detail to Account, lookup to
//! Contact), ContentDocument/ContentVersion pairs and Attachments with file bodies. The same
//! seed and count give the same org, byte for byte, on every platform: the generator is
//! ChaCha8 and every draw uses integer arithmetic.
//!
//! Realism where it matters for backup and compression figures: Ids are allocated in creation
//! order with gaps; children are created after their parents; audit fields move forward in time;
//! text follows a Zipf distribution over a ~3,000-word vocabulary; names, addresses, phone
//! numbers, amounts and picklists vary per record; most nullable fields are sometimes null.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use rand::rngs::ChaCha8Rng;
use rand::{Rng, RngExt, SeedableRng};
use serde_json::{Value, json};

use crate::Error;
use crate::blob::{BlobKind, BlobSpec, pick};
use crate::ids::{IdAllocator, SfId};
use crate::record::Record;
use crate::time::{DAY, date, datetime, days_from_civil, year_quarter};
use crate::vocab::{
    CITIES, COMPANY_NOUNS, COMPANY_STEMS, COMPANY_SUFFIXES, City, FIRST_NAMES, LAST_NAMES,
    STREET_TYPES, STREETS, Zipf,
};

/// The REST API version in record `attributes.url`s.
pub const API_VERSION: &str = "v62.0";

/// The org's "now": every generated timestamp is at or before it (2025-06-30T18:00:00Z).
pub const NOW_EPOCH_SECONDS: i64 = 20_269 * DAY + 18 * 3600;

/// How many years of history the org has before [`NOW_EPOCH_SECONDS`].
const HISTORY_YEARS: i64 = 6;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateConfig {
    /// Seed: the same seed and record count give the same org.
    pub seed: u64,
    /// Total records over all object types (at least 1).
    pub records: usize,
}

/// How a record count is split over the object types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ObjectCounts {
    /// Users (owners and audit actors).
    pub users: usize,
    /// Accounts.
    pub accounts: usize,
    /// Contacts.
    pub contacts: usize,
    /// Opportunities.
    pub opportunities: usize,
    /// Cases.
    pub cases: usize,
    /// Tasks.
    pub tasks: usize,
    /// `Project__c` custom records.
    pub projects: usize,
    /// Files: each is one ContentDocument and one ContentVersion.
    pub files: usize,
    /// Attachments.
    pub attachments: usize,
}

impl ObjectCounts {
    /// The split for `records` in total: about 1% Users (1 to 200), then per mille of the rest
    /// 120 Account, 250 Contact, 150 Opportunity, 120 Case, 50 Project__c, 20 + 20 file
    /// records, 20 Attachment, and Tasks take the remainder (about 250).
    pub fn split(records: usize) -> Self {
        let users = (records / 100).clamp(1, 200).min(records);
        let rest = records - users;
        let share = |per_mille: usize| rest * per_mille / 1000;
        let accounts = if rest > 0 { share(120).max(1) } else { 0 };
        let with_accounts = |n: usize| if accounts > 0 { n } else { 0 };
        let contacts = with_accounts(share(250));
        let opportunities = with_accounts(share(150));
        let cases = with_accounts(share(120));
        let projects = with_accounts(share(50));
        let files = with_accounts(share(20));
        let attachments = with_accounts(share(20));
        let used = accounts + contacts + opportunities + cases + projects + 2 * files + attachments;
        Self {
            users,
            accounts,
            contacts,
            opportunities,
            cases,
            tasks: rest.saturating_sub(used),
            projects,
            files,
            attachments,
        }
    }

    /// The total number of records these counts describe.
    pub fn total(&self) -> usize {
        self.users
            + self.accounts
            + self.contacts
            + self.opportunities
            + self.cases
            + self.tasks
            + self.projects
            + 2 * self.files
            + self.attachments
    }
}

/// The records of one object type, in Id order.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRecords {
    /// Object API name.
    pub name: String,
    /// Records, oldest (smallest Id) first.
    pub records: Vec<Record>,
}

/// A generated org: records per object type and the specs of its file bodies.
#[derive(Debug, Clone)]
pub struct Org {
    objects: Vec<ObjectRecords>,
    blobs: BTreeMap<SfId, BlobSpec>,
    vocab: Zipf,
}

impl Org {
    /// Generates the org for `config`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when `config.records` is 0 or too large for 9-character
    /// record numbers.
    pub fn generate(config: &GenerateConfig) -> Result<Self, Error> {
        if config.records == 0 {
            return Err(Error::InvalidConfig("records must be at least 1"));
        }
        if config.records > 100_000_000 {
            return Err(Error::InvalidConfig("records must be at most 100,000,000"));
        }
        let counts = ObjectCounts::split(config.records);
        let vocab = Zipf::new();
        let mut generator = Generator::new(config.seed, &vocab);
        let objects = generator.run(&counts)?;
        Ok(Self {
            objects,
            blobs: generator.blobs,
            vocab,
        })
    }

    /// Every object type's records, parents before children.
    pub fn objects(&self) -> &[ObjectRecords] {
        &self.objects
    }

    /// The records of object type `name`.
    pub fn object(&self, name: &str) -> Option<&ObjectRecords> {
        self.objects.iter().find(|o| o.name == name)
    }

    /// Total records over all object types.
    pub fn record_count(&self) -> usize {
        self.objects.iter().map(|o| o.records.len()).sum()
    }

    /// Ids of the records that have a file body (ContentVersion and Attachment), in Id order.
    pub fn blob_ids(&self) -> impl Iterator<Item = &SfId> {
        self.blobs.keys()
    }

    /// The spec of record `id`'s file body.
    pub fn blob_spec(&self, id: &SfId) -> Option<&BlobSpec> {
        self.blobs.get(id)
    }

    /// The file body of record `id` (a ContentVersion's `VersionData` or an Attachment's
    /// `Body`), produced on demand.
    pub fn blob_body(&self, id: &SfId) -> Option<Vec<u8>> {
        self.blobs.get(id).map(|spec| spec.body(&self.vocab))
    }

    /// Scales every file body so that together they come to about `total` bytes (each at
    /// least 1 byte; kinds, seeds and the spread of sizes are kept), and updates the size
    /// fields that describe them (`ContentSize` of ContentVersion and its ContentDocument,
    /// `BodyLength` of Attachment). The generator's mix of record and file bytes is fixed;
    /// this lets a benchmark choose it, e.g. 140,000 records with 50 MB of files.
    pub fn with_file_bytes(mut self, total: u64) -> Self {
        let current: u128 = self.blobs.values().map(|s| s.size as u128).sum();
        if current == 0 {
            return self;
        }
        for spec in self.blobs.values_mut() {
            let scaled = spec.size as u128 * u128::from(total) / current;
            spec.size = usize::try_from(scaled).unwrap_or(usize::MAX).max(1);
        }
        let blobs = &self.blobs;
        let size_of = |id: Option<&str>| {
            id.and_then(|id| id.parse::<SfId>().ok())
                .and_then(|id| blobs.get(&id))
                .map(|spec| spec.size)
        };
        for object in &mut self.objects {
            let (size_field, id_field) = match object.name.as_str() {
                "ContentVersion" => ("ContentSize", "Id"),
                "ContentDocument" => ("ContentSize", "LatestPublishedVersionId"),
                "Attachment" => ("BodyLength", "Id"),
                _ => continue,
            };
            for record in &mut object.records {
                if let Some(size) = size_of(record.get_str(id_field)) {
                    record.set(size_field, size);
                }
            }
        }
        self
    }

    /// The records, and what is needed to produce the file bodies later (the live org takes
    /// the records over without copying them).
    pub(crate) fn into_parts(self) -> (Vec<ObjectRecords>, GeneratedBlobs) {
        (
            self.objects,
            GeneratedBlobs {
                specs: self.blobs,
                vocab: self.vocab,
                kept: Arc::default(),
            },
        )
    }
}

/// The file-body specs of a generated org and the vocabulary that turns them into bytes.
#[derive(Clone)]
pub(crate) struct GeneratedBlobs {
    specs: BTreeMap<SfId, BlobSpec>,
    vocab: Zipf,
    /// Bodies kept to serve, as an org keeps its files (clones share them: a spec always gives
    /// the same bytes).
    kept: Arc<Mutex<HashMap<SfId, Bytes>>>,
}

impl std::fmt::Debug for GeneratedBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedBlobs")
            .field("specs", &self.specs.len())
            .finish_non_exhaustive()
    }
}

impl GeneratedBlobs {
    /// The body of record `id`: kept ([`Self::keep_all`]), else produced now and not kept (an
    /// export reads each body once, and an org's files can be larger than memory).
    pub(crate) fn body(&self, id: &SfId) -> Option<Bytes> {
        let spec = self.specs.get(id)?;
        if let Some(body) = kept(&self.kept).get(id) {
            return Some(body.clone());
        }
        Some(Bytes::from(spec.body(&self.vocab)))
    }

    /// Produces and keeps every body now: a server's org has its files before anyone asks
    /// for them, and sends them again and again. Producing a body costs far more than sending
    /// it (a quarter of the simulator's CPU in a full backup of benches/peers' org, on the
    /// machine the client runs on).
    pub(crate) fn keep_all(&self) {
        let mut bodies = kept(&self.kept);
        for (id, spec) in &self.specs {
            bodies
                .entry(*id)
                .or_insert_with(|| Bytes::from(spec.body(&self.vocab)));
        }
    }
}

/// The kept bodies; a poisoned lock still holds whole bodies (each is inserted whole).
fn kept(bodies: &Mutex<HashMap<SfId, Bytes>>) -> MutexGuard<'_, HashMap<SfId, Bytes>> {
    bodies.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A postal address, used for both the component fields and the compound field.
#[derive(Debug, Clone)]
struct Address {
    street: String,
    city: City,
    postal_code: String,
    /// Micro-degrees; `None` when the address was never geocoded.
    geo: Option<(i64, i64, &'static str)>,
}

/// What later object types need to know about an Account.
#[derive(Debug, Clone)]
struct AccountFacts {
    id: SfId,
    created: i64,
    name: String,
    domain: String,
    address: Address,
    phone: String,
    contacts: Vec<usize>,
}

#[derive(Debug, Clone)]
struct ContactFacts {
    id: SfId,
    created: i64,
    email: String,
    phone: String,
}

#[derive(Debug, Clone, Copy)]
struct ParentFacts {
    id: SfId,
    created: i64,
    account: Option<usize>,
}

/// Record audit fields.
#[derive(Debug, Clone, Copy)]
struct Audit {
    created: i64,
    created_by: SfId,
    modified: i64,
    modified_by: SfId,
    modstamp: i64,
}

struct Generator<'v> {
    seed: u64,
    vocab: &'v Zipf,
    ids: IdAllocator,
    users: Vec<(SfId, i64)>,
    accounts: Vec<AccountFacts>,
    contacts: Vec<ContactFacts>,
    opportunities: Vec<ParentFacts>,
    cases: Vec<ParentFacts>,
    blobs: BTreeMap<SfId, BlobSpec>,
    org_domain: String,
}

impl<'v> Generator<'v> {
    fn new(seed: u64, vocab: &'v Zipf) -> Self {
        let mut rng = object_rng(seed, 0);
        const INSTANCE_CHARS: &[u8] =
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut instance = [b'0'; 3];
        for c in instance.iter_mut().take(2) {
            *c = INSTANCE_CHARS[rng.random_range(0..INSTANCE_CHARS.len())];
        }
        let org_domain = format!(
            "{}{}.example.com",
            pick(&mut rng, COMPANY_STEMS).to_lowercase(),
            rng.random_range(10..1000u32)
        );
        Self {
            seed,
            vocab,
            ids: IdAllocator::new(instance),
            users: Vec::new(),
            accounts: Vec::new(),
            contacts: Vec::new(),
            opportunities: Vec::new(),
            cases: Vec::new(),
            blobs: BTreeMap::new(),
            org_domain,
        }
    }

    fn run(&mut self, counts: &ObjectCounts) -> Result<Vec<ObjectRecords>, Error> {
        let users = self.users(counts.users)?;
        let accounts = self.accounts(counts.accounts)?;
        let contacts = self.contacts(counts.contacts)?;
        let opportunities = self.opportunities(counts.opportunities)?;
        let cases = self.cases(counts.cases)?;
        let tasks = self.tasks(counts.tasks)?;
        let projects = self.projects(counts.projects)?;
        let (documents, versions) = self.files(counts.files)?;
        let attachments = self.attachments(counts.attachments)?;
        Ok(vec![
            named("User", users),
            named("Account", accounts),
            named("Contact", contacts),
            named("Opportunity", opportunities),
            named("Case", cases),
            named("Task", tasks),
            named("Project__c", projects),
            named("ContentDocument", documents),
            named("ContentVersion", versions),
            named("Attachment", attachments),
        ])
    }

    /// Allocates Ids for `count` records created at the sorted `times`, so Id order is creation
    /// order, as in a real org.
    fn allocate(
        &mut self,
        rng: &mut ChaCha8Rng,
        prefix: &'static str,
        count: usize,
    ) -> Result<Vec<SfId>, Error> {
        let start = rng.random_range(1_000_000..60_000_000u64);
        (0..count)
            .map(|_| {
                let gap = 1 + rng.random_range(0..4u64) * rng.random_range(0..4u64);
                self.ids.allocate(prefix, start, gap)
            })
            .collect()
    }

    fn user(&self, rng: &mut ChaCha8Rng) -> SfId {
        // A few users do most of the work: the minimum of two draws skews toward the first.
        let n = self.users.len().max(1);
        let index = rng.random_range(0..n).min(rng.random_range(0..n));
        // `ObjectCounts::split` always makes at least one user, and users come first.
        self.users[index].0
    }

    fn audit(&self, rng: &mut ChaCha8Rng, created: i64) -> Audit {
        let created_by = self.user(rng);
        let (modified, modified_by) = if rng.random_ratio(2, 5) {
            (created, created_by)
        } else {
            let span = (NOW_EPOCH_SECONDS - created).max(1);
            (created + rng.random_range(0..span), self.user(rng))
        };
        // Background jobs (rollups, sharing) move SystemModstamp past LastModifiedDate.
        let modstamp = if rng.random_ratio(1, 5) {
            (modified + rng.random_range(1..3600)).min(NOW_EPOCH_SECONDS)
        } else {
            modified
        };
        Audit {
            created,
            created_by,
            modified,
            modified_by,
            modstamp,
        }
    }

    fn users(&mut self, count: usize) -> Result<Vec<Record>, Error> {
        let mut rng = object_rng(self.seed, 1);
        let start = NOW_EPOCH_SECONDS - HISTORY_YEARS * 365 * DAY;
        let times = sorted_times(&mut rng, count, start, start + 2 * 365 * DAY);
        let ids = self.allocate(&mut rng, "005", count)?;
        let mut records = Vec::with_capacity(count);
        let mut usernames = std::collections::BTreeSet::new();
        for (index, (id, created)) in ids.into_iter().zip(times).enumerate() {
            // The first user (the org's creator) created itself; later ones an earlier user.
            let creator = if index == 0 {
                id
            } else {
                self.users[rng.random_range(0..index).min(rng.random_range(0..index))].0
            };
            let first = pick(&mut rng, FIRST_NAMES);
            let last = pick(&mut rng, LAST_NAMES);
            let base = format!("{}.{}", ascii_lower(first), ascii_lower(last));
            let mut username = format!("{base}@{}", self.org_domain);
            let mut n = 2;
            while !usernames.insert(username.clone()) {
                username = format!("{base}{n}@{}", self.org_domain);
                n += 1;
            }
            let city = pick_city(&mut rng);
            let mut r = start_record("User", &id);
            r.push("Username", username.clone());
            r.push("LastName", last);
            r.push("FirstName", first);
            r.push("Name", format!("{first} {last}"));
            r.push("CompanyName", company_name(&mut rng));
            r.push("Division", Value::Null);
            r.push(
                "Department",
                maybe(&mut rng, 3, 4, |rng| pick(rng, DEPARTMENTS).to_owned()),
            );
            r.push(
                "Title",
                maybe(&mut rng, 4, 5, |rng| pick(rng, TITLES).to_owned()),
            );
            r.push("City", city.name);
            r.push("State", city.state);
            r.push("Country", city.country);
            r.push("Email", username);
            r.push("Phone", phone(&mut rng, &city));
            let alias: String = first.chars().take(1).chain(last.chars().take(4)).collect();
            r.push("Alias", ascii_lower(&alias));
            r.push("IsActive", !rng.random_ratio(1, 10));
            r.push("TimeZoneSidKey", pick(&mut rng, TIME_ZONES));
            r.push("LocaleSidKey", "en_US");
            r.push("EmailEncodingKey", "UTF-8");
            r.push("LanguageLocaleKey", "en_US");
            r.push("UserType", "Standard");
            let audit = Audit {
                created,
                created_by: creator,
                modified: created,
                modified_by: creator,
                modstamp: created,
            };
            push_audit(&mut r, &audit);
            let login = created + rng.random_range(0..(NOW_EPOCH_SECONDS - created).max(1));
            r.push("LastLoginDate", datetime(login));
            self.users.push((id, created));
            records.push(r);
        }
        Ok(records)
    }

    fn accounts(&mut self, count: usize) -> Result<Vec<Record>, Error> {
        let mut rng = object_rng(self.seed, 2);
        let start = NOW_EPOCH_SECONDS - HISTORY_YEARS * 365 * DAY;
        let times = sorted_times(&mut rng, count, start, NOW_EPOCH_SECONDS - DAY);
        let ids = self.allocate(&mut rng, "001", count)?;
        let mut records = Vec::with_capacity(count);
        for (index, (id, created)) in ids.into_iter().zip(times).enumerate() {
            let name = company_name(&mut rng);
            let domain = format!("{}.com", domain_stem(&name));
            let billing = address(&mut rng);
            let phone_number = phone(&mut rng, &billing.city);
            let mut r = start_record("Account", &id);
            r.push("IsDeleted", false);
            r.push("MasterRecordId", Value::Null);
            r.push("Name", name.clone());
            r.push(
                "Type",
                maybe(&mut rng, 9, 10, |rng| pick(rng, ACCOUNT_TYPES).to_owned()),
            );
            let parent = (index > 0 && rng.random_ratio(1, 10))
                .then(|| self.accounts[rng.random_range(0..index)].id.to_string());
            r.push("ParentId", parent);
            push_address(&mut r, "Billing", Some(&billing));
            let shipping = match rng.random_range(0..10) {
                0..=5 => Some(billing.clone()),
                6..=7 => Some(address(&mut rng)),
                _ => None,
            };
            push_address(&mut r, "Shipping", shipping.as_ref());
            r.push("Phone", phone_number.clone());
            r.push(
                "Fax",
                maybe(&mut rng, 3, 10, |rng| phone(rng, &billing.city)),
            );
            r.push(
                "AccountNumber",
                maybe(&mut rng, 1, 2, |rng| {
                    format!("CD{:06}", rng.random_range(0..1_000_000))
                }),
            );
            r.push("Website", format!("www.{domain}"));
            r.push("PhotoUrl", format!("/services/images/photo/{id}"));
            r.push(
                "Sic",
                maybe(&mut rng, 2, 5, |rng| {
                    rng.random_range(1000..9999u32).to_string()
                }),
            );
            r.push(
                "Industry",
                maybe(&mut rng, 4, 5, |rng| pick(rng, INDUSTRIES).to_owned()),
            );
            r.push(
                "AnnualRevenue",
                maybe(&mut rng, 3, 5, |rng| log_uniform(rng, 5, 10, 1000) as f64),
            );
            r.push(
                "NumberOfEmployees",
                maybe(&mut rng, 7, 10, |rng| log_uniform(rng, 1, 5, 1)),
            );
            r.push(
                "Ownership",
                maybe(&mut rng, 1, 2, |rng| pick(rng, OWNERSHIP).to_owned()),
            );
            r.push(
                "TickerSymbol",
                maybe(&mut rng, 1, 10, |rng| {
                    (0..rng.random_range(3..=4))
                        .map(|_| char::from(b'A' + rng.random_range(0..26u8)))
                        .collect::<String>()
                }),
            );
            let sentences = rng.random_range(1..=4);
            r.push(
                "Description",
                maybe(&mut rng, 1, 2, |rng| self.vocab.paragraph(rng, sentences)),
            );
            r.push(
                "Rating",
                maybe(&mut rng, 2, 3, |rng| {
                    pick(rng, &["Hot", "Warm", "Cold"]).to_owned()
                }),
            );
            r.push("Site", Value::Null);
            r.push("OwnerId", self.user(&mut rng).to_string());
            let audit = self.audit(&mut rng, created);
            push_audit(&mut r, &audit);
            push_activity_dates(&mut r, &mut rng, created);
            r.push("Jigsaw", Value::Null);
            r.push("JigsawCompanyId", Value::Null);
            r.push(
                "CleanStatus",
                pick(&mut rng, &["Pending", "Not Compared", "Matched"]),
            );
            r.push(
                "AccountSource",
                maybe(&mut rng, 2, 3, |rng| pick(rng, LEAD_SOURCES).to_owned()),
            );
            r.push(
                "YearStarted",
                maybe(&mut rng, 2, 5, |rng| {
                    rng.random_range(1890..2022u32).to_string()
                }),
            );
            records.push(r);
            self.accounts.push(AccountFacts {
                id,
                created,
                name,
                domain,
                address: billing,
                phone: phone_number,
                contacts: Vec::new(),
            });
        }
        Ok(records)
    }

    /// Picks an Account for a child created after it; older accounts collect more children.
    fn pick_account(&self, rng: &mut ChaCha8Rng) -> usize {
        let n = self.accounts.len().max(1);
        rng.random_range(0..n).min(rng.random_range(0..n))
    }

    /// A creation time after `parent_created` and before now.
    /// `count` children of random accounts, as (creation time, account index), oldest first:
    /// the drafting step shared by every object whose parent is always an Account.
    fn account_children(&self, rng: &mut ChaCha8Rng, count: usize) -> Vec<(i64, usize)> {
        let mut drafts: Vec<(i64, usize)> = (0..count)
            .map(|_| {
                let account = self.pick_account(rng);
                (
                    Self::child_time(rng, self.accounts[account].created),
                    account,
                )
            })
            .collect();
        drafts.sort_by_key(|d| d.0);
        drafts
    }

    fn child_time(rng: &mut ChaCha8Rng, parent_created: i64) -> i64 {
        parent_created + 60 + rng.random_range(0..(NOW_EPOCH_SECONDS - parent_created - 60).max(1))
    }

    fn contacts(&mut self, count: usize) -> Result<Vec<Record>, Error> {
        let mut rng = object_rng(self.seed, 3);
        let mut drafts: Vec<(i64, Option<usize>)> = (0..count)
            .map(|_| {
                let account = (!rng.random_ratio(1, 20)).then(|| self.pick_account(&mut rng));
                let parent_created = account
                    .map_or(NOW_EPOCH_SECONDS - HISTORY_YEARS * 365 * DAY, |a| {
                        self.accounts[a].created
                    });
                (Self::child_time(&mut rng, parent_created), account)
            })
            .collect();
        drafts.sort_by_key(|d| d.0);
        let ids = self.allocate(&mut rng, "003", count)?;
        let mut records = Vec::with_capacity(count);
        for (id, (created, account)) in ids.into_iter().zip(drafts) {
            let first = pick(&mut rng, FIRST_NAMES);
            let last = pick(&mut rng, LAST_NAMES);
            let facts = account.map(|a| &self.accounts[a]);
            let domain = facts.map_or_else(
                || pick(&mut rng, &["gmail.com", "outlook.com", "yahoo.com"]).to_owned(),
                |f| f.domain.clone(),
            );
            let email = format!("{}.{}@{domain}", ascii_lower(first), ascii_lower(last));
            let mailing = match facts {
                Some(f) if rng.random_ratio(7, 10) => f.address.clone(),
                _ => address(&mut rng),
            };
            let phone_number = match facts {
                Some(f) if rng.random_ratio(1, 2) => {
                    format!("{} x{}", f.phone, rng.random_range(100..999))
                }
                _ => phone(&mut rng, &mailing.city),
            };
            let mut r = start_record("Contact", &id);
            r.push("IsDeleted", false);
            r.push("MasterRecordId", Value::Null);
            r.push("AccountId", facts.map(|f| f.id.to_string()));
            r.push("LastName", last);
            r.push("FirstName", first);
            r.push(
                "Salutation",
                maybe(&mut rng, 1, 2, |rng| pick(rng, SALUTATIONS).to_owned()),
            );
            r.push("Name", format!("{first} {last}"));
            push_address(&mut r, "Mailing", Some(&mailing));
            r.push("Phone", phone_number.clone());
            r.push("Fax", Value::Null);
            r.push(
                "MobilePhone",
                maybe(&mut rng, 1, 2, |rng| phone(rng, &mailing.city)),
            );
            let reports_to = facts
                .filter(|f| !f.contacts.is_empty() && rng.random_ratio(1, 4))
                .map(|f| {
                    let peer = f.contacts[rng.random_range(0..f.contacts.len())];
                    self.contacts[peer].id.to_string()
                });
            r.push("ReportsToId", reports_to);
            r.push("Email", email.clone());
            r.push(
                "Title",
                maybe(&mut rng, 4, 5, |rng| pick(rng, TITLES).to_owned()),
            );
            r.push(
                "Department",
                maybe(&mut rng, 1, 2, |rng| pick(rng, DEPARTMENTS).to_owned()),
            );
            r.push(
                "LeadSource",
                maybe(&mut rng, 2, 3, |rng| pick(rng, LEAD_SOURCES).to_owned()),
            );
            r.push(
                "Birthdate",
                maybe(&mut rng, 1, 4, |rng| {
                    date(
                        days_from_civil(rng.random_range(1950..2002), 1, 1) * DAY
                            + rng.random_range(0..365) * DAY,
                    )
                }),
            );
            let sentences = rng.random_range(1..=3);
            r.push(
                "Description",
                maybe(&mut rng, 3, 10, |rng| self.vocab.paragraph(rng, sentences)),
            );
            r.push("OwnerId", self.user(&mut rng).to_string());
            r.push("HasOptedOutOfEmail", rng.random_ratio(1, 10));
            r.push("HasOptedOutOfFax", false);
            r.push("DoNotCall", rng.random_ratio(1, 20));
            let audit = self.audit(&mut rng, created);
            push_audit(&mut r, &audit);
            push_activity_dates(&mut r, &mut rng, created);
            r.push("EmailBouncedReason", Value::Null);
            r.push("EmailBouncedDate", Value::Null);
            r.push("IsEmailBounced", false);
            r.push("PhotoUrl", format!("/services/images/photo/{id}"));
            r.push("Jigsaw", Value::Null);
            r.push("JigsawContactId", Value::Null);
            r.push(
                "CleanStatus",
                pick(&mut rng, &["Pending", "Not Compared", "Matched"]),
            );
            records.push(r);
            let index = self.contacts.len();
            if let Some(a) = account {
                self.accounts[a].contacts.push(index);
            }
            self.contacts.push(ContactFacts {
                id,
                created,
                email,
                phone: phone_number,
            });
        }
        Ok(records)
    }

    fn opportunities(&mut self, count: usize) -> Result<Vec<Record>, Error> {
        let mut rng = object_rng(self.seed, 4);
        let drafts = self.account_children(&mut rng, count);
        let ids = self.allocate(&mut rng, "006", count)?;
        let mut records = Vec::with_capacity(count);
        for (id, (created, account)) in ids.into_iter().zip(drafts) {
            let facts = &self.accounts[account];
            let close = created + rng.random_range(14..300) * DAY;
            let closed = close < NOW_EPOCH_SECONDS;
            let stage = if closed {
                if rng.random_ratio(9, 20) {
                    "Closed Won"
                } else {
                    "Closed Lost"
                }
            } else {
                pick(&mut rng, OPEN_STAGES)
            };
            let probability = stage_probability(stage);
            let amount = maybe(&mut rng, 9, 10, |rng| log_uniform(rng, 3, 6, 100) as f64);
            let expected = amount.map(|a| (a * f64::from(probability) / 100.0).round());
            let (forecast, forecast_name) = forecast(stage);
            let (fiscal_year, fiscal_quarter) = year_quarter(close);
            let product = pick(&mut rng, PRODUCTS);
            let mut r = start_record("Opportunity", &id);
            r.push("IsDeleted", false);
            r.push("AccountId", facts.id.to_string());
            r.push("IsPrivate", false);
            r.push(
                "Name",
                format!("{} - {product}", short_company(&facts.name)),
            );
            let sentences = rng.random_range(1..=2);
            r.push(
                "Description",
                maybe(&mut rng, 1, 3, |rng| self.vocab.paragraph(rng, sentences)),
            );
            r.push("StageName", stage);
            r.push("Amount", amount);
            r.push("Probability", f64::from(probability));
            r.push("ExpectedRevenue", expected);
            r.push("TotalOpportunityQuantity", Value::Null);
            r.push("CloseDate", date(close));
            r.push(
                "Type",
                maybe(&mut rng, 4, 5, |rng| {
                    pick(rng, OPPORTUNITY_TYPES).to_owned()
                }),
            );
            r.push(
                "NextStep",
                maybe(&mut rng, 1, 3, |rng| self.vocab.sentence(rng, 2, 6)),
            );
            r.push(
                "LeadSource",
                maybe(&mut rng, 2, 3, |rng| pick(rng, LEAD_SOURCES).to_owned()),
            );
            r.push("IsClosed", closed);
            r.push("IsWon", stage == "Closed Won");
            r.push("ForecastCategory", forecast);
            r.push("ForecastCategoryName", forecast_name);
            r.push("CampaignId", Value::Null);
            r.push("HasOpportunityLineItem", false);
            r.push("Pricebook2Id", Value::Null);
            r.push("OwnerId", self.user(&mut rng).to_string());
            let audit = self.audit(&mut rng, created);
            push_audit(&mut r, &audit);
            push_activity_dates(&mut r, &mut rng, created);
            r.push("PushCount", rng.random_range(0..4u32));
            r.push("LastStageChangeDate", datetime(audit.modified));
            r.push("FiscalQuarter", fiscal_quarter);
            r.push("FiscalYear", fiscal_year);
            r.push("Fiscal", format!("{fiscal_year} {fiscal_quarter}"));
            let contact = (!facts.contacts.is_empty() && rng.random_ratio(1, 2)).then(|| {
                self.contacts[facts.contacts[rng.random_range(0..facts.contacts.len())]]
                    .id
                    .to_string()
            });
            r.push("ContactId", contact);
            r.push("HasOpenActivity", !closed && rng.random_ratio(1, 2));
            r.push("HasOverdueTask", !closed && rng.random_ratio(1, 5));
            records.push(r);
            self.opportunities.push(ParentFacts {
                id,
                created,
                account: Some(account),
            });
        }
        Ok(records)
    }

    fn cases(&mut self, count: usize) -> Result<Vec<Record>, Error> {
        let mut rng = object_rng(self.seed, 5);
        let drafts = self.account_children(&mut rng, count);
        let ids = self.allocate(&mut rng, "500", count)?;
        let first_number = rng.random_range(1000..20_000u32);
        let mut records = Vec::with_capacity(count);
        for (number, (id, (created, account))) in ids.into_iter().zip(drafts).enumerate() {
            let facts = &self.accounts[account];
            // Only contacts that existed when the case was opened can have opened it.
            let contacts: Vec<usize> = facts
                .contacts
                .iter()
                .copied()
                .filter(|&c| self.contacts[c].created <= created)
                .collect();
            let contact = (!contacts.is_empty() && rng.random_ratio(17, 20))
                .then(|| &self.contacts[contacts[rng.random_range(0..contacts.len())]]);
            let status = pick(&mut rng, CASE_STATUSES);
            let closed = status == "Closed";
            let audit = self.audit(&mut rng, created);
            let mut r = start_record("Case", &id);
            r.push("IsDeleted", false);
            r.push("MasterRecordId", Value::Null);
            r.push(
                "CaseNumber",
                format!(
                    "{:08}",
                    u64::from(first_number) + u64::try_from(number).unwrap_or(0)
                ),
            );
            r.push("ContactId", contact.map(|c| c.id.to_string()));
            r.push("AccountId", facts.id.to_string());
            r.push("SuppliedName", Value::Null);
            r.push("SuppliedEmail", Value::Null);
            r.push("SuppliedPhone", Value::Null);
            r.push("SuppliedCompany", Value::Null);
            r.push(
                "Type",
                maybe(&mut rng, 4, 5, |rng| pick(rng, CASE_TYPES).to_owned()),
            );
            r.push("Status", status);
            r.push(
                "Reason",
                maybe(&mut rng, 2, 3, |rng| pick(rng, CASE_REASONS).to_owned()),
            );
            r.push("Origin", pick(&mut rng, &["Phone", "Email", "Web"]));
            let subject = self.vocab.sentence(&mut rng, 3, 9);
            r.push("Subject", subject.trim_end_matches('.').to_owned());
            r.push(
                "Priority",
                pick(&mut rng, &["High", "Medium", "Medium", "Low"]),
            );
            let sentences = rng.random_range(1..=5);
            r.push(
                "Description",
                maybe(&mut rng, 4, 5, |rng| self.vocab.paragraph(rng, sentences)),
            );
            r.push("IsClosed", closed);
            r.push("ClosedDate", closed.then(|| datetime(audit.modified)));
            r.push("IsEscalated", status == "Escalated");
            r.push("OwnerId", self.user(&mut rng).to_string());
            push_audit(&mut r, &audit);
            r.push("ContactPhone", contact.map(|c| c.phone.clone()));
            r.push("ContactMobile", Value::Null);
            r.push("ContactEmail", contact.map(|c| c.email.clone()));
            r.push("ContactFax", Value::Null);
            r.push("Comments", Value::Null);
            push_viewed_dates(&mut r, &mut rng, created);
            records.push(r);
            self.cases.push(ParentFacts {
                id,
                created,
                account: Some(account),
            });
        }
        Ok(records)
    }

    /// Picks what a Task, file or attachment hangs off: an Account, Opportunity or Case.
    fn pick_what(&self, rng: &mut ChaCha8Rng) -> ParentFacts {
        let choice = rng.random_range(0..20);
        let from = |list: &[ParentFacts], rng: &mut ChaCha8Rng| {
            (!list.is_empty()).then(|| list[rng.random_range(0..list.len())])
        };
        let picked = match choice {
            0..=7 => from(&self.opportunities, rng),
            8..=12 => from(&self.cases, rng),
            _ => None,
        };
        picked.unwrap_or_else(|| {
            let account = self.pick_account(rng);
            ParentFacts {
                id: self.accounts[account].id,
                created: self.accounts[account].created,
                account: Some(account),
            }
        })
    }

    fn tasks(&mut self, count: usize) -> Result<Vec<Record>, Error> {
        let mut rng = object_rng(self.seed, 6);
        let mut drafts: Vec<(i64, ParentFacts)> = (0..count)
            .map(|_| {
                let what = self.pick_what(&mut rng);
                (Self::child_time(&mut rng, what.created), what)
            })
            .collect();
        drafts.sort_by_key(|d| d.0);
        let ids = self.allocate(&mut rng, "00T", count)?;
        let mut records = Vec::with_capacity(count);
        for (id, (created, what)) in ids.into_iter().zip(drafts) {
            let account = what.account.map(|a| &self.accounts[a]);
            let who = account
                .filter(|a| !a.contacts.is_empty() && rng.random_ratio(7, 10))
                .map(|a| self.contacts[a.contacts[rng.random_range(0..a.contacts.len())]].id);
            let subtype = pick(&mut rng, &["Task", "Call", "Call", "Email"]);
            let subject = match subtype {
                "Call" => "Call".to_owned(),
                "Email" => format!("Email: {}", self.vocab.sentence(&mut rng, 2, 7)),
                _ => pick(&mut rng, TASK_SUBJECTS).to_owned(),
            };
            let activity = created + rng.random_range(-5..30) * DAY;
            let status = if activity < NOW_EPOCH_SECONDS && rng.random_ratio(4, 5) {
                "Completed"
            } else {
                pick(&mut rng, OPEN_TASK_STATUSES)
            };
            let closed = status == "Completed";
            let priority = pick(&mut rng, &["Normal", "Normal", "High", "Low"]);
            let audit = self.audit(&mut rng, created);
            let mut r = start_record("Task", &id);
            r.push("WhoId", who.map(|w| w.to_string()));
            r.push("WhatId", what.id.to_string());
            r.push("Subject", subject);
            r.push("ActivityDate", date(activity));
            r.push("Status", status);
            r.push("Priority", priority);
            r.push("IsHighPriority", priority == "High");
            r.push("OwnerId", self.user(&mut rng).to_string());
            let sentences = rng.random_range(1..=3);
            r.push(
                "Description",
                maybe(&mut rng, 1, 2, |rng| self.vocab.paragraph(rng, sentences)),
            );
            r.push("IsDeleted", false);
            r.push("AccountId", account.map(|a| a.id.to_string()));
            r.push("IsClosed", closed);
            push_audit(&mut r, &audit);
            r.push("IsArchived", false);
            let is_call = subtype == "Call";
            r.push(
                "CallDurationInSeconds",
                (is_call && closed).then(|| rng.random_range(20..3600u32)),
            );
            r.push(
                "CallType",
                is_call.then(|| pick(&mut rng, &["Outbound", "Inbound"])),
            );
            r.push("CallDisposition", Value::Null);
            r.push("CallObject", Value::Null);
            r.push("ReminderDateTime", Value::Null);
            r.push("IsReminderSet", false);
            r.push("RecurrenceActivityId", Value::Null);
            r.push("IsRecurrence", false);
            r.push("TaskSubtype", subtype);
            r.push(
                "CompletedDateTime",
                closed.then(|| datetime(audit.modified)),
            );
            records.push(r);
        }
        Ok(records)
    }

    fn projects(&mut self, count: usize) -> Result<Vec<Record>, Error> {
        let mut rng = object_rng(self.seed, 7);
        let drafts = self.account_children(&mut rng, count);
        let ids = self.allocate(&mut rng, "a0X", count)?;
        let mut records = Vec::with_capacity(count);
        for (index, (id, (created, account))) in ids.into_iter().zip(drafts).enumerate() {
            let facts = &self.accounts[account];
            let start = created + rng.random_range(0..60) * DAY;
            let status = pick(&mut rng, PROJECT_STATUSES);
            let audit = self.audit(&mut rng, created);
            // Master-detail children have no owner of their own: no OwnerId field.
            let mut r = start_record("Project__c", &id);
            r.push("IsDeleted", false);
            r.push(
                "Name",
                format!(
                    "{} {}",
                    short_company(&facts.name),
                    pick(&mut rng, PROJECT_NAMES)
                ),
            );
            push_audit(&mut r, &audit);
            push_activity_dates(&mut r, &mut rng, created);
            r.push("Account__c", facts.id.to_string());
            let contact = (!facts.contacts.is_empty() && rng.random_ratio(7, 10)).then(|| {
                self.contacts[facts.contacts[rng.random_range(0..facts.contacts.len())]]
                    .id
                    .to_string()
            });
            r.push("Primary_Contact__c", contact);
            // The external id (unique, from a legacy project system) that upserts match on.
            // Derived from the position, not drawn, so the other fields' streams are unchanged.
            r.push("External_Id__c", format!("PRJ-{:07}", index + 1));
            r.push("Status__c", status);
            r.push(
                "Budget__c",
                maybe(&mut rng, 4, 5, |rng| log_uniform(rng, 3, 6, 500) as f64),
            );
            r.push("Start_Date__c", date(start));
            r.push(
                "End_Date__c",
                maybe(&mut rng, 2, 3, |rng| {
                    date(start + rng.random_range(30..720) * DAY)
                }),
            );
            let sentences = rng.random_range(1..=4);
            r.push(
                "Description__c",
                maybe(&mut rng, 2, 3, |rng| self.vocab.paragraph(rng, sentences)),
            );
            records.push(r);
        }
        Ok(records)
    }

    /// A file body spec: half compressible, half not; sizes spread from 256 B to 512 KiB
    /// (about uniform in log size, integer-only).
    fn blob_spec(rng: &mut ChaCha8Rng) -> BlobSpec {
        let kind = if rng.random_ratio(1, 2) {
            BlobKind::ALL[rng.random_range(0..3)]
        } else {
            BlobKind::ALL[rng.random_range(3..BlobKind::ALL.len())]
        };
        let exponent = rng.random_range(8..=18u32);
        let size = (1usize << exponent) + rng.random_range(0..(1usize << exponent));
        BlobSpec {
            kind,
            size,
            seed: rng.next_u64(),
        }
    }

    fn file_title(&self, rng: &mut ChaCha8Rng) -> String {
        let words = rng.random_range(2..=4);
        let sentence = self.vocab.sentence(rng, words, words);
        sentence.trim_end_matches('.').to_owned()
    }

    fn files(&mut self, count: usize) -> Result<(Vec<Record>, Vec<Record>), Error> {
        let mut rng = object_rng(self.seed, 8);
        let mut drafts: Vec<(i64, ParentFacts)> = (0..count)
            .map(|_| {
                let what = self.pick_what(&mut rng);
                (Self::child_time(&mut rng, what.created), what)
            })
            .collect();
        drafts.sort_by_key(|d| d.0);
        let document_ids = self.allocate(&mut rng, "069", count)?;
        let version_ids = self.allocate(&mut rng, "068", count)?;
        let mut documents = Vec::with_capacity(count);
        let mut versions = Vec::with_capacity(count);
        for ((document_id, version_id), (created, what)) in
            document_ids.into_iter().zip(version_ids).zip(drafts)
        {
            let spec = Self::blob_spec(&mut rng);
            let title = self.file_title(&mut rng);
            let owner = self.user(&mut rng);
            let audit = Audit {
                created,
                created_by: owner,
                modified: created,
                modified_by: owner,
                modstamp: created,
            };
            let mut d = start_record("ContentDocument", &document_id);
            d.push("CreatedById", owner.to_string());
            d.push("CreatedDate", datetime(created));
            d.push("LastModifiedById", owner.to_string());
            d.push("LastModifiedDate", datetime(created));
            d.push("IsArchived", false);
            d.push("ArchivedById", Value::Null);
            d.push("ArchivedDate", Value::Null);
            d.push("IsDeleted", false);
            d.push("OwnerId", owner.to_string());
            d.push("SystemModstamp", datetime(created));
            d.push("Title", title.clone());
            d.push("PublishStatus", "P");
            d.push("LatestPublishedVersionId", version_id.to_string());
            d.push("ParentId", Value::Null);
            push_viewed_dates(&mut d, &mut rng, created);
            d.push("Description", Value::Null);
            d.push("ContentSize", spec.size);
            d.push("FileType", spec.kind.file_type());
            d.push("FileExtension", spec.kind.extension());
            d.push("SharingOption", "A");
            d.push("SharingPrivacy", "N");
            d.push("ContentModifiedDate", datetime(created));
            d.push("ContentAssetId", Value::Null);
            documents.push(d);

            let mut v = start_record("ContentVersion", &version_id);
            v.push("ContentDocumentId", document_id.to_string());
            v.push("IsLatest", true);
            v.push("ContentUrl", Value::Null);
            v.push("VersionNumber", "1");
            v.push("Title", title.clone());
            v.push("Description", Value::Null);
            v.push("ReasonForChange", Value::Null);
            v.push("SharingOption", "A");
            v.push("SharingPrivacy", "N");
            v.push("PathOnClient", format!("{title}.{}", spec.kind.extension()));
            v.push("RatingCount", 0);
            v.push("IsDeleted", false);
            v.push("ContentModifiedDate", datetime(created));
            v.push("ContentModifiedById", owner.to_string());
            v.push("PositiveRatingCount", 0);
            v.push("NegativeRatingCount", 0);
            v.push("OwnerId", owner.to_string());
            push_audit(&mut v, &audit);
            v.push("FileType", spec.kind.file_type());
            v.push("PublishStatus", "P");
            v.push(
                "VersionData",
                format!(
                    "/services/data/{API_VERSION}/sobjects/ContentVersion/{version_id}/VersionData"
                ),
            );
            v.push("ContentSize", spec.size);
            v.push("FileExtension", spec.kind.extension());
            v.push("FirstPublishLocationId", what.id.to_string());
            v.push("Origin", "C");
            v.push("ContentLocation", "S");
            v.push("TextPreview", Value::Null);
            v.push("IsMajorVersion", true);
            v.push("IsAssetEnabled", false);
            versions.push(v);
            self.blobs.insert(version_id, spec);
        }
        Ok((documents, versions))
    }

    fn attachments(&mut self, count: usize) -> Result<Vec<Record>, Error> {
        let mut rng = object_rng(self.seed, 9);
        let mut drafts: Vec<(i64, ParentFacts)> = (0..count)
            .map(|_| {
                let what = self.pick_what(&mut rng);
                (Self::child_time(&mut rng, what.created), what)
            })
            .collect();
        drafts.sort_by_key(|d| d.0);
        let ids = self.allocate(&mut rng, "00P", count)?;
        let mut records = Vec::with_capacity(count);
        for (id, (created, parent)) in ids.into_iter().zip(drafts) {
            let spec = Self::blob_spec(&mut rng);
            let title = self.file_title(&mut rng);
            let audit = self.audit(&mut rng, created);
            let mut r = start_record("Attachment", &id);
            r.push("IsDeleted", false);
            r.push("ParentId", parent.id.to_string());
            r.push("Name", format!("{title}.{}", spec.kind.extension()));
            r.push("IsPrivate", rng.random_ratio(1, 20));
            r.push("ContentType", spec.kind.content_type());
            r.push("BodyLength", spec.size);
            r.push(
                "Body",
                format!("/services/data/{API_VERSION}/sobjects/Attachment/{id}/Body"),
            );
            r.push("OwnerId", audit.created_by.to_string());
            push_audit(&mut r, &audit);
            r.push(
                "Description",
                maybe(&mut rng, 1, 5, |rng| self.vocab.sentence(rng, 3, 10)),
            );
            records.push(r);
            self.blobs.insert(id, spec);
        }
        Ok(records)
    }
}

fn named(name: &str, records: Vec<Record>) -> ObjectRecords {
    ObjectRecords {
        name: name.to_owned(),
        records,
    }
}

/// An independent generator per object type, so each type's stream does not depend on how many
/// draws the types before it made beyond their record counts.
fn object_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&stream.to_le_bytes());
    key[16..].copy_from_slice(b"coffer-sfsim-org");
    ChaCha8Rng::from_seed(key)
}

/// `count` timestamps in `[from, to)`, sorted.
fn sorted_times(rng: &mut ChaCha8Rng, count: usize, from: i64, to: i64) -> Vec<i64> {
    let mut times: Vec<i64> = (0..count)
        .map(|_| rng.random_range(from..to.max(from + 1)))
        .collect();
    times.sort_unstable();
    times
}

/// `attributes` and `Id`, the first two fields of every REST record.
fn start_record(object: &str, id: &SfId) -> Record {
    let mut r = Record::new();
    r.push(
        "attributes",
        json!({"type": object, "url": format!("/services/data/{API_VERSION}/sobjects/{object}/{id}")}),
    );
    r.push("Id", id.to_string());
    r
}

fn push_audit(r: &mut Record, audit: &Audit) {
    r.push("CreatedDate", datetime(audit.created));
    r.push("CreatedById", audit.created_by.to_string());
    r.push("LastModifiedDate", datetime(audit.modified));
    r.push("LastModifiedById", audit.modified_by.to_string());
    r.push("SystemModstamp", datetime(audit.modstamp));
}

fn push_viewed_dates(r: &mut Record, rng: &mut ChaCha8Rng, created: i64) {
    let viewed = rng
        .random_ratio(1, 3)
        .then(|| created + rng.random_range(0..(NOW_EPOCH_SECONDS - created).max(1)));
    r.push("LastViewedDate", viewed.map(datetime));
    r.push("LastReferencedDate", viewed.map(datetime));
}

fn push_activity_dates(r: &mut Record, rng: &mut ChaCha8Rng, created: i64) {
    let activity = rng
        .random_ratio(1, 2)
        .then(|| created + rng.random_range(0..(NOW_EPOCH_SECONDS - created).max(1)));
    r.push("LastActivityDate", activity.map(date));
    push_viewed_dates(r, rng, created);
}

/// `Some(make())` with probability `num/den`, else `None` (serialised as JSON null).
fn maybe<T>(
    rng: &mut ChaCha8Rng,
    num: u32,
    den: u32,
    make: impl FnOnce(&mut ChaCha8Rng) -> T,
) -> Option<T> {
    rng.random_ratio(num, den).then(|| make(rng))
}

/// An integer spread evenly over the decades `10^lo..10^hi`, rounded to a multiple of `step`.
fn log_uniform(rng: &mut ChaCha8Rng, lo: u32, hi: u32, step: u64) -> u64 {
    let decade = rng.random_range(lo..hi);
    let base = 10u64.pow(decade);
    let value = base + rng.random_range(0..base * 9);
    (value / step.max(1)).max(1) * step.max(1)
}

fn pick_city(rng: &mut ChaCha8Rng) -> City {
    // Big cities are more frequent: the minimum of two draws favours the head of the list.
    let n = CITIES.len();
    CITIES[rng.random_range(0..n).min(rng.random_range(0..n))]
}

fn address(rng: &mut ChaCha8Rng) -> Address {
    let city = pick_city(rng);
    let mut street = format!(
        "{} {} {}",
        rng.random_range(1..9999u32),
        pick(rng, STREETS),
        pick(rng, STREET_TYPES)
    );
    if rng.random_ratio(1, 5) {
        street.push_str(&format!("\nSuite {}", rng.random_range(100..2000u32)));
    }
    let missing = city.postal_digits.saturating_sub(city.postal_prefix.len());
    let mut postal_code = city.postal_prefix.to_owned();
    for _ in 0..missing {
        postal_code.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    let geo = (!rng.random_ratio(3, 10)).then(|| {
        (
            city.lat_micro + rng.random_range(-60_000..60_000),
            city.lon_micro + rng.random_range(-60_000..60_000),
            pick(rng, &["Address", "NearAddress", "Street", "Zip"]),
        )
    });
    Address {
        street,
        city,
        postal_code,
        geo,
    }
}

/// The component fields and the compound field, as REST returns them.
fn push_address(r: &mut Record, prefix: &'static str, address: Option<&Address>) {
    let micro = |v: i64| Value::from(v as f64 / 1_000_000.0);
    let street = address.map(|a| a.street.clone());
    let city = address.map(|a| a.city.name);
    let state = address.map(|a| a.city.state);
    let postal = address.map(|a| a.postal_code.clone());
    let country = address.map(|a| a.city.country);
    let geo = address.and_then(|a| a.geo);
    let latitude = geo.map_or(Value::Null, |g| micro(g.0));
    let longitude = geo.map_or(Value::Null, |g| micro(g.1));
    let accuracy = geo.map(|g| g.2);
    r.push(format!("{prefix}Street"), street.clone());
    r.push(format!("{prefix}City"), city);
    r.push(format!("{prefix}State"), state);
    r.push(format!("{prefix}PostalCode"), postal.clone());
    r.push(format!("{prefix}Country"), country);
    r.push(format!("{prefix}Latitude"), latitude.clone());
    r.push(format!("{prefix}Longitude"), longitude.clone());
    r.push(format!("{prefix}GeocodeAccuracy"), accuracy);
    let compound = address.map_or(Value::Null, |_| {
        json!({
            "city": city,
            "country": country,
            "geocodeAccuracy": accuracy,
            "latitude": latitude,
            "longitude": longitude,
            "postalCode": postal,
            "state": state,
            "street": street,
        })
    });
    r.push(format!("{prefix}Address"), compound);
}

fn phone(rng: &mut ChaCha8Rng, city: &City) -> String {
    if city.country == "United States" || city.country == "Canada" {
        format!(
            "({}) 555-{:04}",
            city.area_code,
            rng.random_range(0..10_000u32)
        )
    } else {
        format!(
            "+{} {} {:04} {:04}",
            rng.random_range(30..99u32),
            city.area_code,
            rng.random_range(0..10_000u32),
            rng.random_range(0..10_000u32)
        )
    }
}

fn company_name(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..3) {
        0 => format!("{} {}", pick(rng, LAST_NAMES), pick(rng, COMPANY_NOUNS)),
        1 => format!(
            "{} {} {}",
            pick(rng, COMPANY_STEMS),
            pick(rng, COMPANY_NOUNS),
            pick(rng, COMPANY_SUFFIXES)
        ),
        _ => format!("{} {}", pick(rng, COMPANY_STEMS), pick(rng, COMPANY_NOUNS)),
    }
}

/// The company name without its legal-form suffix, as sales reps write it.
fn short_company(name: &str) -> &str {
    COMPANY_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix).map(str::trim_end))
        .unwrap_or(name)
}

/// A DNS label from a company name: lowercase ASCII letters and digits only.
fn domain_stem(name: &str) -> String {
    let stem: String = short_company(name)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if stem.is_empty() {
        "example".to_owned()
    } else {
        stem
    }
}

/// Lowercase ASCII, other characters dropped (for e-mail local parts).
fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn stage_probability(stage: &str) -> u32 {
    match stage {
        "Prospecting" | "Qualification" => 10,
        "Needs Analysis" => 20,
        "Value Proposition" => 50,
        "Id. Decision Makers" => 60,
        "Perception Analysis" => 70,
        "Proposal/Price Quote" => 75,
        "Negotiation/Review" => 90,
        "Closed Won" => 100,
        _ => 0,
    }
}

fn forecast(stage: &str) -> (&'static str, &'static str) {
    match stage_probability(stage) {
        100 => ("Closed", "Closed"),
        0 => ("Omitted", "Omitted"),
        90 => ("Commit", "Commit"),
        70 | 75 => ("BestCase", "Best Case"),
        _ => ("Pipeline", "Pipeline"),
    }
}

const ACCOUNT_TYPES: &[&str] = &[
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Prospect",
    "Other",
];
const INDUSTRIES: &[&str] = &[
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
];
const OWNERSHIP: &[&str] = &["Public", "Private", "Subsidiary", "Other"];
const LEAD_SOURCES: &[&str] = &[
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
    "Trade Show",
    "Word of mouth",
    "Employee Referral",
    "External Referral",
    "Advertisement",
];
const SALUTATIONS: &[&str] = &["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."];
const TITLES: &[&str] = &[
    "CEO",
    "CFO",
    "CTO",
    "COO",
    "VP, Sales",
    "VP, Marketing",
    "VP, Finance",
    "SVP, Operations",
    "Director, IT",
    "Director, Procurement",
    "Head of Operations",
    "Regional Manager",
    "Account Manager",
    "Sales Representative",
    "Buyer",
    "Procurement Manager",
    "IT Manager",
    "Office Manager",
    "Engineer",
    "Senior Engineer",
    "Project Manager",
    "Controller",
    "Administrative Assistant",
    "EVP, General Manager",
    "Product Manager",
    "Analyst",
];
const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Marketing",
    "Finance",
    "IT",
    "Operations",
    "Procurement",
    "Engineering",
    "Customer Support",
    "Legal",
    "Human Resources",
    "Executive",
];
const TIME_ZONES: &[&str] = &[
    "America/Los_Angeles",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
];
const OPEN_STAGES: &[&str] = &[
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
];
const OPPORTUNITY_TYPES: &[&str] = &[
    "New Customer",
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
];
const PRODUCTS: &[&str] = &[
    "Annual Subscription",
    "Platform Upgrade",
    "Renewal",
    "Add-On Licenses",
    "Implementation Services",
    "Hardware Refresh",
    "Support Contract",
    "Pilot",
    "Expansion",
    "Premium SLA",
    "Training Package",
    "Multi-Year Agreement",
    "Installation",
    "Spare Parts",
    "Managed Services",
    "Data Migration",
];
const CASE_STATUSES: &[&str] = &["New", "Working", "Escalated", "Closed", "Closed", "Closed"];
const CASE_TYPES: &[&str] = &[
    "Mechanical",
    "Electrical",
    "Electronic",
    "Structural",
    "Other",
];
const CASE_REASONS: &[&str] = &[
    "Installation",
    "Equipment Complexity",
    "Performance",
    "Breakdown",
    "Equipment Design",
    "Feedback",
    "Other",
];
const TASK_SUBJECTS: &[&str] = &[
    "Send Letter",
    "Send Quote",
    "Follow up",
    "Other",
    "Prepare proposal",
    "Schedule demo",
];
const OPEN_TASK_STATUSES: &[&str] = &[
    "Not Started",
    "In Progress",
    "Waiting on someone else",
    "Deferred",
];
const PROJECT_STATUSES: &[&str] = &[
    "Planned",
    "In Progress",
    "On Hold",
    "Completed",
    "Cancelled",
];
const PROJECT_NAMES: &[&str] = &[
    "Rollout",
    "Migration",
    "Integration",
    "Upgrade",
    "Pilot",
    "Deployment",
    "Onboarding",
    "Phase 2",
    "Expansion",
    "Health Check",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sums_to_the_requested_count() {
        for records in [1usize, 2, 5, 19, 20, 99, 100, 1_000, 12_345, 1_000_000] {
            let counts = ObjectCounts::split(records);
            assert_eq!(counts.total(), records, "{records}: {counts:?}");
            assert!(counts.users >= 1);
        }
        let counts = ObjectCounts::split(10_000);
        assert_eq!(counts.users, 100);
        assert_eq!(counts.accounts, 1188);
        assert_eq!(counts.contacts, 2475);
    }

    #[test]
    fn kept_bodies_are_the_bodies_produced_on_demand() {
        let org = Org::generate(&GenerateConfig {
            seed: 2,
            records: 300,
        })
        .unwrap();
        let (_, blobs) = org.into_parts();
        let ids: Vec<SfId> = blobs.specs.keys().copied().collect();
        assert!(!ids.is_empty());
        // A body read is not kept; `keep_all` keeps the same bytes, for every clone.
        let first = blobs.body(&ids[0]).unwrap();
        assert!(kept(&blobs.kept).is_empty());
        let clone = blobs.clone();
        blobs.keep_all();
        assert_eq!(kept(&clone.kept).len(), ids.len());
        assert_eq!(kept(&clone.kept)[&ids[0]], first);
        for id in &ids {
            let spec = &blobs.specs[id];
            assert_eq!(clone.body(id).unwrap(), spec.body(&blobs.vocab));
        }
        let absent = SfId::from_15("001000000000000").unwrap();
        assert!(blobs.body(&absent).is_none());
    }

    #[test]
    fn now_is_the_documented_instant() {
        assert_eq!(datetime(NOW_EPOCH_SECONDS), "2025-06-30T18:00:00.000+0000");
    }

    #[test]
    fn short_company_strips_legal_form() {
        assert_eq!(short_company("Acme Foods Inc."), "Acme Foods");
        assert_eq!(short_company("Acme Foods"), "Acme Foods");
        assert_eq!(domain_stem("O'Brien Labs"), "obrienlabs");
    }
}
