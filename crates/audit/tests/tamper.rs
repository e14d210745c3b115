//! Property tests: any single-byte change, line deletion, reordering or tail truncation of a
//! log or of a JSON Lines export is detected; inclusion and consistency proofs verify for
//! random tree sizes and fail when tampered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::OnceLock;

use coffer_audit::merkle::{MerkleTree, leaf_hash, verify_consistency, verify_inclusion};
use coffer_audit::verify::{Options, verify_log};
use coffer_audit::{EventDraft, ExportFormat, ExportRequest, Outcome, export, verify_export};
use common::*;
use proptest::prelude::*;

struct Material {
    log: Vec<u8>,
    notes: Vec<Vec<u8>>,
    export: Vec<u8>,
}

/// One log of 40 events (checkpoints every 8 and at shutdown) and one export of part of it,
/// built once for all cases.
fn material() -> &'static Material {
    static M: OnceLock<Material> = OnceLock::new();
    M.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let f = fixture(40, 8).await;
            let request = ExportRequest {
                seqs: Some(5..30),
                include_personal: true,
                ..ExportRequest::all(ExportFormat::JsonLines)
            };
            let auditor = EventDraft::new("ignored", Outcome::Success).user("local", "auditor");
            let export = export(&f.log, &request, auditor).await.unwrap();
            f.log.shutdown().await.unwrap();
            Material {
                log: f.log_bytes(),
                notes: f.notes().await,
                export,
            }
        })
    })
}

fn log_ok(log: &[u8]) -> bool {
    let m = material();
    verify_log(log, &m.notes, &verifier(), None, Options::default()).is_verified()
}

fn export_ok(export: &[u8]) -> bool {
    verify_export(export, &verifier()).is_ok()
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&c| c == b'\n').collect()
}

#[test]
fn the_untouched_material_verifies() {
    let m = material();
    assert!(log_ok(&m.log));
    assert!(export_ok(&m.export));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_byte_change_in_the_log_is_detected(pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let mut log = material().log.clone();
        let i = pos.index(log.len());
        log[i] ^= xor;
        prop_assert!(!log_ok(&log));
    }

    #[test]
    fn any_byte_change_in_an_export_is_detected(pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let mut export = material().export.clone();
        let i = pos.index(export.len());
        export[i] ^= xor;
        prop_assert!(!export_ok(&export));
    }

    #[test]
    fn deleting_a_line_is_detected(which in any::<prop::sample::Index>()) {
        for bytes in [&material().log, &material().export] {
            let mut ls = lines(bytes);
            ls.remove(which.index(ls.len()));
            let tampered: Vec<u8> = ls.concat();
            let detected = if bytes == &material().log { !log_ok(&tampered) } else { !export_ok(&tampered) };
            prop_assert!(detected);
        }
    }

    #[test]
    fn reordering_lines_is_detected(a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        for bytes in [&material().log, &material().export] {
            let mut ls = lines(bytes);
            let (i, j) = (a.index(ls.len()), b.index(ls.len()));
            prop_assume!(ls[i] != ls[j]);
            ls.swap(i, j);
            let tampered: Vec<u8> = ls.concat();
            let detected = if bytes == &material().log { !log_ok(&tampered) } else { !export_ok(&tampered) };
            prop_assert!(detected);
        }
    }

    #[test]
    fn truncating_the_tail_is_detected(cut in any::<prop::sample::Index>()) {
        for bytes in [&material().log, &material().export] {
            let keep = cut.index(bytes.len());
            let tampered = &bytes[..keep];
            let detected = if bytes == &material().log { !log_ok(tampered) } else { !export_ok(tampered) };
            prop_assert!(detected);
        }
    }

    #[test]
    fn proofs_verify_for_random_sizes_and_fail_when_tampered(
        size in 1u64..3000,
        index_pick in any::<prop::sample::Index>(),
        first_pick in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let tree = MerkleTree::from_leaves((0..size).map(|i| leaf_hash(&i.to_le_bytes())));
        let root = tree.root_at(size).unwrap();
        let index = index_pick.index(size as usize) as u64;
        let leaf = tree.leaf(index).unwrap();
        let proof = tree.inclusion_proof(index, size).unwrap();
        prop_assert!(verify_inclusion(index, size, &leaf, &proof, &root).is_ok());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let k = flip.index(bad.len());
            bad[k][0] ^= 1 << bit;
            prop_assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
            prop_assert!(verify_inclusion(index, size, &leaf, &proof[..proof.len() - 1], &root).is_err());
        }
        let mut wrong_leaf = leaf;
        wrong_leaf[31] ^= 1 << bit;
        prop_assert!(verify_inclusion(index, size, &wrong_leaf, &proof, &root).is_err());

        let first = first_pick.index(size as usize + 1) as u64;
        let first_root = tree.root_at(first).unwrap();
        let cproof = tree.consistency_proof(first, size).unwrap();
        prop_assert!(verify_consistency(first, size, &first_root, &root, &cproof).is_ok());
        if !cproof.is_empty() {
            let mut bad = cproof.clone();
            let k = flip.index(bad.len());
            bad[k][0] ^= 1 << bit;
            prop_assert!(verify_consistency(first, size, &first_root, &root, &bad).is_err());
            let mut other_root = root;
            other_root[0] ^= 1 << bit;
            prop_assert!(verify_consistency(first, size, &first_root, &other_root, &cproof).is_err());
        }
    }
}
