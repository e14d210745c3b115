//! Word lists and a Zipf-distributed text source, so generated text compresses like real CRM
//! text (a few very frequent words, a long tail of rare ones) rather than like repeated constants.
//!
//! Every draw uses integer arithmetic only, so the same seed gives the same text on every
//! platform (floating-point `powf`/`exp` may differ in the last bit between C libraries).

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

/// Common English and business words, most frequent first (rank drives the Zipf weight).
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "the", "to", "and", "of", "a", "in", "for", "is", "on", "that", "with", "we", "customer",
    "this", "be", "will", "are", "as", "it", "at", "have", "from", "our", "by", "account", "not",
    "can", "they", "their", "you", "all", "or", "an", "new", "has", "contract", "call", "team",
    "renewal", "was", "support", "meeting", "order", "need", "follow", "up", "review", "pricing",
    "product", "would", "about", "service", "next", "week", "please", "issue", "quote", "data",
    "after", "more", "update", "discussed", "requested", "sales", "license", "users", "project",
    "also", "should", "were", "been", "client", "email", "plan", "proposal", "budget", "decision",
    "integration", "demo", "onboarding", "timeline", "partner", "quarter", "growth", "team's",
    "training", "invoice", "billing", "payment", "delivery", "shipment", "warehouse", "region",
    "north", "south", "east", "west", "enterprise", "platform", "cloud", "migration", "security",
    "compliance", "audit", "report", "dashboard", "analytics", "pipeline", "forecast", "target",
    "stakeholder", "executive", "sponsor", "champion", "procurement", "legal", "terms", "discount",
    "volume", "tier", "upgrade", "expansion", "pilot", "rollout", "phase", "milestone", "kickoff",
    "workshop", "feedback", "survey", "escalation", "ticket", "outage", "incident", "resolved",
    "pending", "approved", "signed", "sent", "received", "scheduled", "confirmed", "cancelled",
    "reschedule", "voicemail", "left", "message", "spoke", "manager", "director", "vp", "cfo",
    "cto", "ceo", "operations", "finance", "marketing", "engineering", "hr", "interested",
    "concerned", "happy", "unhappy", "asked", "wants", "expects", "agreed", "committed", "evaluate",
    "competitor", "alternative", "vendor", "solution", "requirements", "scope", "implementation",
    "configuration", "custom", "api", "sandbox", "production", "environment", "access", "login",
    "password", "reset", "error", "bug", "fix", "patch", "release", "version", "feature", "request",
    "roadmap", "priority", "high", "low", "medium", "urgent", "today", "tomorrow", "monday",
    "tuesday", "wednesday", "thursday", "friday", "january", "february", "march", "april", "may",
    "june", "july", "august", "september", "october", "november", "december", "q1", "q2", "q3",
    "q4", "fy", "annual", "monthly", "weekly", "daily", "cost", "savings", "roi", "value",
    "benefit", "risk", "opportunity", "lead", "prospect", "referral", "trade", "show", "webinar",
    "conference", "campaign", "inbound", "outbound", "website", "form", "chat", "phone", "fax",
    "mail", "address", "office", "site", "location", "visit", "onsite", "remote", "travel", "lunch",
    "dinner", "gift", "thank", "thanks", "regards", "hello", "hi", "dear", "sincerely", "best",
    "note", "notes", "summary", "action", "items", "owner", "due", "date", "status", "open",
    "closed", "won", "lost", "stage", "amount", "close", "probability", "revenue", "margin",
    "units", "seats", "hardware", "software", "subscription", "maintenance", "warranty",
    "replacement", "return", "refund", "credit", "shipping", "tracking", "number", "reference",
    "case", "back", "asap", "eod", "regarding", "per", "conversation", "earlier", "yesterday",
    "last", "first", "second", "third", "final", "draft", "copy", "attached", "document",
    "spreadsheet", "presentation", "slides", "agenda", "minutes", "recording", "transcript",
    "generator", "turbine", "installation", "panel", "module", "sensor", "controller", "battery",
    "inverter", "cable", "pump", "valve", "filter", "compressor", "motor", "engine", "spare",
    "parts", "kit", "unit", "system", "network", "server", "storage", "backup", "recovery",
];

/// Syllables for the long tail of rarer words (product names, jargon, surnames in notes).
#[rustfmt::skip]
const SYLLABLES: &[&str] = &[
    "al", "ba", "cor", "da", "el", "fen", "gra", "hal", "in", "jo", "ka", "lum", "mar", "nex", "or",
    "pra", "quin", "ros", "sol", "tor", "ul", "ver", "wex", "xan", "yor", "zel", "tri", "ox", "ium",
    "ent", "ara", "ix", "ton", "ley", "berg", "ford", "dale", "mont", "via", "ra",
];

/// How many synthesised tail words follow the real ones.
const TAIL_WORDS: usize = 2600;

/// A vocabulary with integer Zipf weights: word of rank `k` (0-based) has weight `2^32 / (k+1)`.
#[derive(Debug, Clone)]
pub(crate) struct Zipf {
    words: Vec<String>,
    cumulative: Vec<u64>,
}

impl Zipf {
    /// The fixed vocabulary: the real words, then deterministic synthesised tail words.
    pub(crate) fn new() -> Self {
        let mut words: Vec<String> = WORDS.iter().map(|w| (*w).to_owned()).collect();
        // The tail is built from a fixed counter, not the org seed: every org shares one
        // vocabulary, as every real org shares one language.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        while words.len() < WORDS.len() + TAIL_WORDS {
            let mut word = String::new();
            let syllable_count = 2 + (state % 3);
            for _ in 0..syllable_count {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let index = usize::try_from((state >> 33) % SYLLABLES.len() as u64).unwrap_or(0);
                word.push_str(SYLLABLES[index]);
            }
            words.push(word);
        }
        let mut total = 0u64;
        let cumulative = (0..words.len() as u64)
            .map(|rank| {
                total += (1u64 << 32) / (rank + 1);
                total
            })
            .collect();
        Self { words, cumulative }
    }

    /// One word drawn with Zipf frequency.
    pub(crate) fn word(&self, rng: &mut ChaCha8Rng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1);
        let draw = rng.random_range(0..total);
        let index = self.cumulative.partition_point(|&c| c <= draw);
        self.words.get(index).map_or("data", String::as_str)
    }

    /// A sentence of `min..=max` words, capitalised, ending with a full stop.
    pub(crate) fn sentence(&self, rng: &mut ChaCha8Rng, min: usize, max: usize) -> String {
        let count = rng.random_range(min..=max);
        let mut out = String::new();
        for i in 0..count {
            let word = self.word(rng);
            if i == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(chars.as_str());
                }
            } else {
                out.push(' ');
                out.push_str(word);
            }
        }
        out.push('.');
        out
    }

    /// `sentences` sentences joined by spaces.
    pub(crate) fn paragraph(&self, rng: &mut ChaCha8Rng, sentences: usize) -> String {
        let parts: Vec<String> = (0..sentences).map(|_| self.sentence(rng, 5, 18)).collect();
        parts.join(" ")
    }
}

/// Given names, roughly by frequency.
#[rustfmt::skip]
pub(crate) const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony",
    "Margaret", "Mark", "Sandra", "Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily",
    "Andrew", "Donna", "Joshua", "Michelle", "Kenneth", "Dorothy", "Kevin", "Carol", "Brian",
    "Amanda", "George", "Melissa", "Timothy", "Deborah", "Ronald", "Stephanie", "Edward", "Rebecca",
    "Jason", "Sharon", "Jeffrey", "Laura", "Ryan", "Cynthia", "Jacob", "Kathleen", "Gary", "Amy",
    "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Anna", "Stephen", "Brenda", "Larry",
    "Pamela", "Justin", "Emma", "Scott", "Nicole", "Brandon", "Helen", "Benjamin", "Samantha",
    "Samuel", "Katherine", "Gregory", "Christine", "Alexander", "Debra", "Frank", "Rachel",
    "Patrick", "Carolyn", "Raymond", "Janet", "Jack", "Catherine", "Dennis", "Maria", "Jerry",
    "Heather", "Tyler", "Diane", "Aaron", "Ruth", "Jose", "Julie", "Adam", "Olivia", "Nathan",
    "Joyce", "Henry", "Virginia", "Priya", "Wei", "Yuki", "Aisha", "Lars", "Sofia", "Mateo",
    "Chloe", "Hiroshi", "Ingrid", "Rahul", "Fatima", "Lukas", "Camille",
];

/// Family names, roughly by frequency.
#[rustfmt::skip]
pub(crate) const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
    "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook",
    "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
    "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood",
    "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
    "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry",
    "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Schmidt", "Müller",
    "Dubois", "Tanaka", "Sato", "Kowalski", "Novak", "Johansson", "Rossi", "O'Brien", "Singh",
    "Chen", "Wang", "Okafor", "Haddad", "Fischer",
];

/// First parts of company names.
#[rustfmt::skip]
pub(crate) const COMPANY_STEMS: &[&str] = &[
    "Acme", "Global", "United", "Pinnacle", "Summit", "Blue", "Red", "Green", "Silver", "Golden",
    "Northern", "Pacific", "Atlantic", "Metro", "Prime", "Apex", "Vertex", "Quantum", "Stellar",
    "Horizon", "Evergreen", "Granite", "Cedar", "Oak", "Maple", "River", "Lake", "Mountain",
    "Coastal", "Liberty", "Pioneer", "Frontier", "Heritage", "Keystone", "Beacon", "Harbor",
    "Burlington", "Edge", "Grand", "Express", "Dickenson", "Genepoint", "Sierra", "Orion", "Falcon",
    "Eagle", "Lion", "Titan", "Nova", "Aurora", "Zenith", "Crescent", "Sterling",
];

/// Middle parts of company names.
#[rustfmt::skip]
pub(crate) const COMPANY_NOUNS: &[&str] = &[
    "Textiles", "Communications", "Hotels", "Logistics", "Systems", "Energy", "Foods",
    "Manufacturing", "Technologies", "Solutions", "Health", "Pharma", "Bank", "Insurance", "Motors",
    "Airlines", "Media", "Software", "Networks", "Construction", "Engineering", "Consulting",
    "Retail", "Partners", "Holdings", "Industries", "Labs", "Robotics", "Apparel", "Chemicals",
    "Mining", "Utilities", "Telecom", "Capital", "Realty", "Biotech",
];

/// Legal-form suffixes of company names.
#[rustfmt::skip]
pub(crate) const COMPANY_SUFFIXES: &[&str] = &[
    "Inc.", "Corp.", "LLC", "Ltd.", "Group", "Co.", "plc", "GmbH", "S.A.", "Inc", "Corporation",
];

/// Street names.
#[rustfmt::skip]
pub(crate) const STREETS: &[&str] = &[
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Market",
    "Mission", "Broadway", "Church", "High", "Mill", "Spring", "Center", "River", "Union",
    "Franklin", "Jefferson", "Lincoln", "Madison", "Sunset", "Highland", "Forest", "Meadow",
    "Ridge", "Valley", "Harbor", "King", "Queen", "Victoria", "Industrial", "Commerce",
];

/// Street types.
#[rustfmt::skip]
pub(crate) const STREET_TYPES: &[&str] = &[
    "St", "Street", "Ave", "Avenue", "Blvd", "Rd", "Road", "Dr", "Way", "Lane", "Pkwy", "Ct",
];

/// A city with its region, country, postal-code pattern, phone area code and coordinates in
/// micro-degrees (integers, so coordinates print the same on every platform).
#[derive(Debug, Clone, Copy)]
pub(crate) struct City {
    pub(crate) name: &'static str,
    pub(crate) state: &'static str,
    pub(crate) country: &'static str,
    /// Leading digits of the postal code; the rest is drawn.
    pub(crate) postal_prefix: &'static str,
    /// Total postal-code digits (US 5; others vary).
    pub(crate) postal_digits: usize,
    pub(crate) area_code: &'static str,
    pub(crate) lat_micro: i64,
    pub(crate) lon_micro: i64,
}

// One argument per column keeps the table below readable as a table.
#[allow(clippy::too_many_arguments)]
const fn city(
    name: &'static str,
    state: &'static str,
    country: &'static str,
    postal_prefix: &'static str,
    postal_digits: usize,
    area_code: &'static str,
    lat_micro: i64,
    lon_micro: i64,
) -> City {
    City {
        name,
        state,
        country,
        postal_prefix,
        postal_digits,
        area_code,
        lat_micro,
        lon_micro,
    }
}

/// Cities, most frequent first.
#[rustfmt::skip]
pub(crate) const CITIES: &[City] = &[
    city("New York", "NY", "United States", "100", 5, "212", 40_712_776, -74_005_974),
    city("San Francisco", "CA", "United States", "941", 5, "415", 37_774_929, -122_419_416),
    city("Chicago", "IL", "United States", "606", 5, "312", 41_878_114, -87_629_798),
    city("Los Angeles", "CA", "United States", "900", 5, "213", 34_052_235, -118_243_683),
    city("Austin", "TX", "United States", "787", 5, "512", 30_267_153, -97_743_061),
    city("Boston", "MA", "United States", "021", 5, "617", 42_360_082, -71_058_880),
    city("Seattle", "WA", "United States", "981", 5, "206", 47_606_209, -122_332_071),
    city("Atlanta", "GA", "United States", "303", 5, "404", 33_748_995, -84_387_982),
    city("Dallas", "TX", "United States", "752", 5, "214", 32_776_664, -96_796_988),
    city("Denver", "CO", "United States", "802", 5, "303", 39_739_236, -104_990_251),
    city("Houston", "TX", "United States", "770", 5, "713", 29_760_427, -95_369_803),
    city("Miami", "FL", "United States", "331", 5, "305", 25_761_680, -80_191_790),
    city("Phoenix", "AZ", "United States", "850", 5, "602", 33_448_377, -112_074_037),
    city("Philadelphia", "PA", "United States", "191", 5, "215", 39_952_584, -75_165_222),
    city("Minneapolis", "MN", "United States", "554", 5, "612", 44_977_753, -93_265_011),
    city("Portland", "OR", "United States", "972", 5, "503", 45_515_232, -122_678_385),
    city("Raleigh", "NC", "United States", "276", 5, "919", 35_779_590, -78_638_179),
    city("Nashville", "TN", "United States", "372", 5, "615", 36_162_664, -86_781_602),
    city("Salt Lake City", "UT", "United States", "841", 5, "801", 40_760_779, -111_891_047),
    city("Burlington", "NC", "United States", "272", 5, "336", 36_095_690, -79_437_799),
    city("Toronto", "ON", "Canada", "M5", 3, "416", 43_653_226, -79_383_184),
    city("Vancouver", "BC", "Canada", "V6", 3, "604", 49_282_729, -123_120_738),
    city("London", "England", "United Kingdom", "EC", 3, "20", 51_507_351, -127_758),
    city("Manchester", "England", "United Kingdom", "M", 3, "161", 53_480_759, -2_242_631),
    city("Berlin", "Berlin", "Germany", "10", 5, "30", 52_520_007, 13_404_954),
    city("Munich", "Bavaria", "Germany", "80", 5, "89", 48_135_125, 11_581_981),
    city("Paris", "Île-de-France", "France", "750", 5, "1", 48_856_614, 2_352_222),
    city("Amsterdam", "North Holland", "Netherlands", "10", 4, "20", 52_367_573, 4_904_139),
    city("Tokyo", "Tokyo", "Japan", "100", 7, "3", 35_676_192, 139_650_311),
    city("Sydney", "NSW", "Australia", "20", 4, "2", -33_868_820, 151_209_296),
    city("Singapore", "Singapore", "Singapore", "0", 6, "65", 1_352_083, 103_819_836),
    city("São Paulo", "SP", "Brazil", "01", 8, "11", -23_555_771, -46_639_557),
];
