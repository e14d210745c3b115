//! Salesforce record Ids: the 15-character case-sensitive form, the 18-character
//! case-insensitive form with its checksum suffix, key prefixes, and a seeded allocator.
//!
//! An Id is `PPP` (key prefix: the object type) + `III` (instance/pod part) + 9 base-62
//! characters (the record number). The 18-character form appends three characters that encode,
//! for each 5-character chunk of the 15-character form, which positions hold an uppercase letter,
//! so the Id survives case-insensitive systems. Salesforce APIs always return the 18-character form.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// Alphabet of the checksum suffix: the value of a 5-bit mask indexes it.
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// Alphabet of the base-62 record number, in Salesforce order (digits, upper, lower).
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The three checksum characters that turn a 15-character Id into its 18-character form.
///
/// For chunk `c` (characters `5c..5c+5`), bit `i` of the mask is set when character `i` of the
/// chunk is an ASCII uppercase letter; the mask indexes `"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"`.
pub fn checksum_suffix(id15: &[u8; 15]) -> [u8; 3] {
    let mut suffix = [0u8; 3];
    for (chunk_index, chunk) in id15.chunks_exact(5).enumerate() {
        let mask = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |mask, (bit, _)| mask | (1 << bit));
        suffix[chunk_index] = SUFFIX_ALPHABET[mask];
    }
    suffix
}

/// A valid 18-character Salesforce record Id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SfId([u8; 18]);

impl SfId {
    /// Builds the 18-character Id from a 15-character one.
    ///
    /// # Errors
    /// [`Error::InvalidId`] when the input is not 15 base-62 characters.
    pub fn from_15(id15: &str) -> Result<Self, Error> {
        let bytes: &[u8; 15] = id15.as_bytes().try_into().map_err(|_| Error::InvalidId {
            id: id15.to_owned(),
            reason: "not 15 characters",
        })?;
        if !bytes.iter().all(u8::is_ascii_alphanumeric) {
            return Err(Error::InvalidId {
                id: id15.to_owned(),
                reason: "not base-62 characters",
            });
        }
        let mut full = [0u8; 18];
        full[..15].copy_from_slice(bytes);
        full[15..].copy_from_slice(&checksum_suffix(bytes));
        Ok(Self(full))
    }

    /// The 18-character form.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored (checked in every constructor).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The case-sensitive 15-character form.
    pub fn to_15(&self) -> &str {
        &self.as_str()[..15]
    }

    /// The 3-character key prefix naming the object type (e.g. `001` for Account).
    pub fn key_prefix(&self) -> &str {
        &self.as_str()[..3]
    }
}

impl FromStr for SfId {
    type Err = Error;

    /// Parses a 15- or 18-character Id; an 18-character Id must carry the right checksum.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.len() {
            15 => Self::from_15(s),
            18 => {
                let id = Self::from_15(&s[..15])?;
                if id.as_str() == s {
                    Ok(id)
                } else {
                    Err(Error::InvalidId {
                        id: s.to_owned(),
                        reason: "checksum suffix does not match",
                    })
                }
            }
            _ => Err(Error::InvalidId {
                id: s.to_owned(),
                reason: "not 15 or 18 characters",
            }),
        }
    }
}

impl fmt::Display for SfId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SfId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SfId({})", self.as_str())
    }
}

/// Allocates Ids for one org: one instance part, and per key prefix an increasing record number
/// with random gaps (real Ids are allocated in order but not densely within an org).
#[derive(Debug, Clone)]
pub(crate) struct IdAllocator {
    instance: [u8; 3],
    next: std::collections::BTreeMap<&'static str, u64>,
}

/// Largest record number that fits in 9 base-62 characters.
const MAX_RECORD_NUMBER: u64 = 62u64.pow(9) - 1;

impl IdAllocator {
    /// An allocator for the pod/instance part `instance` (3 base-62 characters).
    pub(crate) fn new(instance: [u8; 3]) -> Self {
        Self {
            instance,
            next: std::collections::BTreeMap::new(),
        }
    }

    /// The next Id for `prefix`, `gap` (at least 1) record numbers after the previous one. The
    /// first Id of a prefix starts at `start`.
    pub(crate) fn allocate(
        &mut self,
        prefix: &'static str,
        start: u64,
        gap: u64,
    ) -> Result<SfId, Error> {
        let number = match self.next.get(prefix) {
            Some(previous) => previous.saturating_add(gap.max(1)),
            None => start,
        };
        if number > MAX_RECORD_NUMBER {
            return Err(Error::InvalidConfig(
                "record numbers exhausted for a key prefix",
            ));
        }
        self.next.insert(prefix, number);
        let mut id15 = String::with_capacity(15);
        id15.push_str(prefix);
        id15.extend(self.instance.iter().map(|&b| char::from(b)));
        let mut digits = [b'0'; 9];
        let mut rest = number;
        for digit in digits.iter_mut().rev() {
            // `rest % 62` is below 62, so the index is in range and the cast is lossless.
            *digit = BASE62[(rest % 62) as usize];
            rest /= 62;
        }
        id15.extend(digits.iter().map(|&b| char::from(b)));
        SfId::from_15(&id15)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real pairs published in Salesforce documentation and client fixtures.
    const KNOWN_PAIRS: &[(&str, &str)] = &[
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
        ("003RO0000035WQg", "003RO0000035WQgYAM"),
        ("a00D0000008pQRA", "a00D0000008pQRAIA2"),
    ];

    #[test]
    fn known_pairs_convert() {
        for (short, long) in KNOWN_PAIRS {
            let id = SfId::from_15(short).unwrap();
            assert_eq!(id.as_str(), *long);
            assert_eq!(id.to_15(), *short);
            assert_eq!(long.parse::<SfId>().unwrap(), id);
            assert_eq!(short.parse::<SfId>().unwrap(), id);
        }
    }

    #[test]
    fn all_lowercase_and_all_uppercase_chunks() {
        assert_eq!(&checksum_suffix(b"abcde00000zzzzz"), b"AAA");
        assert_eq!(&checksum_suffix(b"ABCDEABCDEABCDE"), b"555");
        // Bit i for position i: only position 4 upper gives 16 -> 'Q'.
        assert_eq!(&checksum_suffix(b"0000Z00000Z0000"), b"QAB");
    }

    #[test]
    fn wrong_checksum_or_shape_is_rejected() {
        assert!("001A0000006Vm9rIAD".parse::<SfId>().is_err());
        assert!("001A0000006Vm9".parse::<SfId>().is_err());
        assert!("001A0000006Vm9-".parse::<SfId>().is_err());
        assert!("001A0000006Vm9é".parse::<SfId>().is_err());
    }

    #[test]
    fn allocator_is_increasing_and_prefixed() {
        let mut alloc = IdAllocator::new(*b"Dn0");
        let a = alloc.allocate("001", 1000, 1).unwrap();
        let b = alloc.allocate("001", 1000, 7).unwrap();
        let c = alloc.allocate("003", 5, 1).unwrap();
        assert_eq!(a.as_str(), "001Dn00000000G8IAI");
        assert!(a < b);
        assert_eq!(b.key_prefix(), "001");
        assert_eq!(c.to_15(), "003Dn0000000005");
        assert_eq!(a.as_str().len(), 18);
    }
}
