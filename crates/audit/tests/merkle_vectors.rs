//! Known-answer tests against an independent implementation.
//!
//! Source of every vector: transparency-dev/merkle, `proof/verify_test.go` (Go, Apache-2.0),
//! the certificate-transparency reference tree of eight leaves. In that file inclusion
//! vectors use 1-based leaf numbers (`leaf - 1` is the index); here they are 0-based.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use coffer_audit::merkle::{
    Hash, MerkleTree, ProofError, empty_root, leaf_hash, verify_consistency, verify_inclusion,
};

const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Root of the tree of the first `i + 1` leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const EMPTY_ROOT: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// (index, tree size, proof)
const INCLUSION: [(u64, u64, &[&str]); 4] = [
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (first size, second size, proof)
const CONSISTENCY: [(u64, u64, &[&str]); 4] = [
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

/// (index, size, leaf hash, proof, root), as in verify_test.go's inclusionProbe.
type InclusionProbe = (u64, u64, Hash, Vec<Hash>, Hash);
/// (size1, size2, root1, root2, proof), as in verify_test.go's consistencyProbe.
type ConsistencyProbe = (u64, u64, Hash, Hash, Vec<Hash>);

fn h(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn proof(p: &[&str]) -> Vec<[u8; 32]> {
    p.iter().map(|s| h(s)).collect()
}

fn tree() -> MerkleTree {
    MerkleTree::from_leaves(LEAVES.iter().map(|l| leaf_hash(&hex::decode(l).unwrap())))
}

#[test]
fn roots_match_the_reference_tree() {
    assert_eq!(empty_root(), h(EMPTY_ROOT));
    let t = tree();
    assert_eq!(t.root_at(0).unwrap(), h(EMPTY_ROOT));
    for (i, root) in ROOTS.iter().enumerate() {
        assert_eq!(t.root_at(i as u64 + 1).unwrap(), h(root), "size {}", i + 1);
    }
}

#[test]
fn inclusion_proofs_match_and_verify() {
    let t = tree();
    for (index, size, expected) in INCLUSION {
        let expected = proof(expected);
        assert_eq!(
            t.inclusion_proof(index, size).unwrap(),
            expected,
            "{index}/{size}"
        );
        let root = h(ROOTS[size as usize - 1]);
        let leaf = t.leaf(index).unwrap();
        verify_inclusion(index, size, &leaf, &expected, &root).unwrap();
        // The corruptions of verify_test.go's corruptInclusionProof must all fail.
        let mut probes: Vec<InclusionProbe> = vec![
            (index.wrapping_sub(1), size, leaf, expected.clone(), root),
            (index + 1, size, leaf, expected.clone(), root),
            (index ^ 2, size, leaf, expected.clone(), root),
            (index, size * 2, leaf, expected.clone(), root),
            (index, size / 2, leaf, expected.clone(), root),
            (index, size, leaf_hash(b"WrongLeaf"), expected.clone(), root),
            (index, size, leaf, expected.clone(), h(EMPTY_ROOT)),
            (
                index,
                size,
                leaf,
                [expected.clone(), vec![root]].concat(),
                root,
            ),
            (
                index,
                size,
                leaf,
                [vec![root], expected.clone()].concat(),
                root,
            ),
            (
                index,
                size,
                leaf,
                expected[..expected.len() - 1].to_vec(),
                root,
            ),
        ];
        for i in 0..expected.len() {
            let mut flipped = expected.clone();
            flipped[i][0] ^= 8;
            probes.push((index, size, leaf, flipped, root));
        }
        for (i, s, l, p, r) in probes {
            assert!(
                verify_inclusion(i, s, &l, &p, &r).is_err(),
                "corrupted probe verified: index {i} size {s}"
            );
        }
    }
}

#[test]
fn consistency_proofs_match_and_verify() {
    let t = tree();
    for (first, second, expected) in CONSISTENCY {
        let expected = proof(expected);
        assert_eq!(t.consistency_proof(first, second).unwrap(), expected);
        let r1 = h(ROOTS[first as usize - 1]);
        let r2 = h(ROOTS[second as usize - 1]);
        verify_consistency(first, second, &r1, &r2, &expected).unwrap();
        let mut probes: Vec<ConsistencyProbe> = vec![
            (first - 1, second, r1, r2, expected.clone()),
            (first + 1, second, r1, r2, expected.clone()),
            (first ^ 2, second, r1, r2, expected.clone()),
            (first, second * 2, r1, r2, expected.clone()),
            (first, second / 2, r1, r2, expected.clone()),
            (first, second, r2, r1, expected.clone()),
            (first, second, h(EMPTY_ROOT), r2, expected.clone()),
            (first, second, r1, r2, Vec::new()),
            (first, second, r1, r2, [expected.clone(), vec![r1]].concat()),
            (first, second, r1, r2, [vec![r2], expected.clone()].concat()),
            (
                first,
                second,
                r1,
                r2,
                expected[..expected.len() - 1].to_vec(),
            ),
        ];
        for i in 0..expected.len() {
            let mut flipped = expected.clone();
            flipped[i][0] ^= 16;
            probes.push((first, second, r1, r2, flipped));
        }
        for (a, b, x, y, p) in probes {
            if a == first && b == second && x == r1 && y == r2 && p == expected {
                continue;
            }
            assert!(
                verify_consistency(a, b, &x, &y, &p).is_err(),
                "corrupted probe verified: {a} -> {b}"
            );
        }
    }
}

#[test]
fn degenerate_consistency_cases_follow_the_reference() {
    // verify_test.go TestVerifyConsistency: sizes that are always consistent, and the errors.
    let (a, b) = ([1u8; 32], [2u8; 32]);
    assert!(verify_consistency(0, 0, &a, &a, &[]).is_ok());
    assert!(verify_consistency(0, 1, &a, &b, &[]).is_ok());
    assert!(verify_consistency(1, 1, &b, &b, &[]).is_ok());
    assert!(verify_consistency(0, 0, &a, &b, &[]).is_err());
    assert!(verify_consistency(1, 1, &a, &b, &[]).is_err());
    assert_eq!(
        verify_consistency(1, 0, &a, &b, &[]),
        Err(ProofError::SizesOutOfOrder {
            first: 1,
            second: 0
        })
    );
    assert!(verify_consistency(1, 2, &a, &b, &[]).is_err());
    let e = h(EMPTY_ROOT);
    assert!(verify_consistency(0, 0, &e, &e, &[e]).is_err());
    assert!(verify_consistency(0, 1, &e, &e, &[e]).is_err());
    assert!(verify_consistency(1, 1, &e, &e, &[e]).is_err());
}
