//! The RFC 6962 / RFC 9162 Merkle tree: hashing, roots, proof generation and verification.
//!
//! Leaves are hashed as `SHA-256(0x00 || leaf)` and interior nodes as
//! `SHA-256(0x01 || left || right)`; the empty tree's root is `SHA-256("")`. Domain separation
//! by the prefix byte is what stops a leaf from being passed off as an interior node (the
//! second-preimage attack on naive Merkle trees).
//!
//! Everything here is synchronous and does no I/O.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Why a proof did not verify, or could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not inside the tree (`index >= size`).
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The older tree is larger than the newer one.
    #[error("tree size {first} cannot be a prefix of tree size {second}")]
    SizesOutOfOrder {
        /// The size claimed to be older.
        first: u64,
        /// The size claimed to be newer.
        second: u64,
    },
    /// The proof has the wrong number of hashes for the sizes involved.
    #[error("proof has the wrong length")]
    WrongLength,
    /// The proof does not lead to the expected root(s).
    #[error("proof does not match the root hash")]
    RootMismatch,
}

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`): RFC 6962's split point `k`.
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The root of the tree whose leaf hashes are `leaves` (RFC 6962 `MTH`).
pub fn root_of(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        frontier.push(*leaf);
    }
    frontier.root()
}

/// An append-only tree summarised by the roots of its maximal perfect subtrees (a "compact
/// range" from the left edge): `O(log n)` memory, `O(1)` amortised hashing per leaf.
///
/// This is what the log writer and the verifier keep; they never need old leaves again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Roots of perfect subtrees, largest (leftmost) first; their sizes are the set bits of
    /// `size`, in decreasing order.
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        // Each trailing one bit of the old size is a perfect subtree of the same height as the
        // node being carried: merge them, like binary addition.
        let mut carry = self.size;
        while carry & 1 == 1 {
            // The size's set bits and `nodes` correspond one to one, so pop cannot fail here.
            if let Some(left) = self.nodes.pop() {
                node = node_hash(&left, &node);
            }
            carry >>= 1;
        }
        self.nodes.push(node);
        self.size += 1;
    }

    /// The root hash of the tree so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        match iter.next() {
            None => empty_root(),
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// A tree that keeps every level, so inclusion and consistency proofs for any earlier size
/// cost `O(log² n)` hashing instead of `O(n)`. Used by exporters; memory is about two hashes
/// per leaf.
#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    /// `levels[h][i]` is the root of the perfect subtree of `2^h` leaves starting at leaf
    /// `i * 2^h`; only complete subtrees are stored.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a tree from leaf hashes.
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The leaf hash at `index`, if present.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        let index = usize::try_from(index).ok()?;
        self.levels.first()?.get(index).copied()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = leaf;
        let mut height = 0;
        loop {
            if self.levels.len() == height {
                self.levels.push(Vec::new());
            }
            let level = &mut self.levels[height];
            level.push(node);
            if level.len() % 2 == 1 {
                return;
            }
            let n = level.len();
            node = node_hash(&level[n - 2], &level[n - 1]);
            height += 1;
        }
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.size() {
            return Err(ProofError::IndexOutOfRange {
                index: size,
                size: self.size(),
            });
        }
        Ok(if size == 0 {
            empty_root()
        } else {
            self.subtree(0, size)
        })
    }

    /// `MTH(D[start:end])` for a range the RFC recursion produces (non-empty, `start` aligned
    /// to the largest power of two not above `end - start`).
    fn subtree(&self, start: u64, end: u64) -> Hash {
        let n = end - start;
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let height = n.trailing_zeros() as usize;
            let index = (start >> height) as usize;
            if let Some(hash) = self.levels.get(height).and_then(|l| l.get(index)) {
                return *hash;
            }
        }
        if n == 1 {
            // Unreachable for in-range calls (a single leaf is always stored); keep a
            // defined value rather than panicking.
            return empty_root();
        }
        let k = split(n);
        node_hash(
            &self.subtree(start, start + k),
            &self.subtree(start + k, end),
        )
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves
    /// (RFC 6962 `PATH`), ordered from the leaf upwards.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        if index >= size || size > self.size() {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, start, start + k, out);
            out.push(self.subtree(start + k, end));
        } else {
            self.path(m - k, start + k, end, out);
            out.push(self.subtree(start, start + k));
        }
    }

    /// The consistency proof from the tree of the first `first` leaves to the tree of the
    /// first `second` leaves (RFC 6962 `PROOF`).
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, ProofError> {
        if first > second {
            return Err(ProofError::SizesOutOfOrder { first, second });
        }
        if second > self.size() {
            return Err(ProofError::IndexOutOfRange {
                index: second,
                size: self.size(),
            });
        }
        let mut proof = Vec::new();
        if first > 0 && first < second {
            self.subproof(first, 0, second, true, &mut proof);
        }
        Ok(proof)
    }

    fn subproof(&self, m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<Hash>) {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(self.subtree(start, end));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, start + k, whole, out);
            out.push(self.subtree(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.subtree(start, start + k));
        }
    }
}

/// Verifies that `leaf` is leaf number `index` of the tree of `size` leaves with root `root`
/// (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `first` leaves with root `first_root` is a prefix of the tree of
/// `second` leaves with root `second_root` (RFC 9162 section 2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if first == 0 {
        // Every tree extends the empty tree; a non-empty proof is malformed.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != first_root || &sr != second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn split_is_largest_power_of_two_below() {
        assert_eq!(split(2), 1);
        assert_eq!(split(3), 2);
        assert_eq!(split(4), 2);
        assert_eq!(split(5), 4);
        assert_eq!(split(1 << 40), 1 << 39);
        assert_eq!(split((1 << 40) + 1), 1 << 40);
    }

    #[test]
    fn frontier_and_tree_agree_with_recursive_definition() {
        fn mth(d: &[Hash]) -> Hash {
            match d.len() {
                0 => empty_root(),
                1 => d[0],
                n => {
                    let k = split(n as u64) as usize;
                    node_hash(&mth(&d[..k]), &mth(&d[k..]))
                }
            }
        }
        let all = leaves(70);
        let tree = MerkleTree::from_leaves(all.iter().copied());
        let mut frontier = Frontier::new();
        for n in 0..=all.len() {
            assert_eq!(frontier.root(), mth(&all[..n]), "frontier size {n}");
            assert_eq!(
                tree.root_at(n as u64).unwrap(),
                mth(&all[..n]),
                "tree size {n}"
            );
            if n < all.len() {
                frontier.push(all[n]);
            }
        }
    }

    #[test]
    fn every_inclusion_and_consistency_proof_round_trips() {
        let all = leaves(40);
        let tree = MerkleTree::from_leaves(all.iter().copied());
        for size in 1..=40u64 {
            let root = tree.root_at(size).unwrap();
            for index in 0..size {
                let proof = tree.inclusion_proof(index, size).unwrap();
                verify_inclusion(index, size, &all[index as usize], &proof, &root).unwrap();
                assert!(
                    verify_inclusion(index, size, &all[0], &proof, &root).is_err() || index == 0
                );
            }
            for first in 0..=size {
                let proof = tree.consistency_proof(first, size).unwrap();
                let first_root = tree.root_at(first).unwrap();
                verify_consistency(first, size, &first_root, &root, &proof).unwrap();
            }
        }
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let tree = MerkleTree::from_leaves(leaves(5));
        assert!(tree.inclusion_proof(5, 5).is_err());
        assert!(tree.inclusion_proof(0, 6).is_err());
        assert!(tree.consistency_proof(4, 3).is_err());
        assert!(tree.consistency_proof(1, 6).is_err());
        assert!(tree.root_at(6).is_err());
        let root = tree.root_at(5).unwrap();
        assert_eq!(
            verify_inclusion(5, 5, &root, &[], &root),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
    }
}
