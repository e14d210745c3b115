//! Exports: every format renders, is audited, and the JSON Lines form verifies on its own
//! and against an earlier export.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use coffer_audit::verify::{FailureKind, Options, verify_log};
use coffer_audit::{
    EventDraft, ExportFormat, ExportRequest, Outcome, Target, export, verify_export,
    verify_export_pair,
};
use common::*;

fn auditor() -> EventDraft {
    EventDraft::new("ignored", Outcome::Success).user("local", "auditor@example.com")
}

#[tokio::test]
async fn jsonl_exports_verify_alone_and_as_a_pair() {
    let f = fixture(30, 10).await;
    f.log
        .erase_payload(
            1,
            EventDraft::new("x", Outcome::Success).user("local", "dpo"),
        )
        .await
        .unwrap();
    let first = export(
        &f.log,
        &ExportRequest {
            include_personal: true,
            ..ExportRequest::all(ExportFormat::JsonLines)
        },
        auditor(),
    )
    .await
    .unwrap();
    let report = verify_export(&first, &verifier()).unwrap();
    // 30 events + the erasure event, anchored at a checkpoint signed for the export.
    assert_eq!(report.checkpoint.size, 31);
    assert_eq!(report.indices.len(), 31);
    assert_eq!(report.erased, vec![1]);
    assert!(report.openings_verified > 10);
    let text = String::from_utf8(first.clone()).unwrap();
    assert!(
        text.contains("user0@example.com"),
        "openings are included on request"
    );

    for i in 100..105 {
        f.log.record(draft(i)).await.unwrap();
    }
    let second = export(
        &f.log,
        &ExportRequest {
            org: Some("00D000000000001".into()),
            consistency_from: Some(report.checkpoint.size),
            ..ExportRequest::all(ExportFormat::JsonLines)
        },
        auditor(),
    )
    .await
    .unwrap();
    let (old, new) = verify_export_pair(&first, &second, &verifier()).unwrap();
    assert!(new.checkpoint.size > old.checkpoint.size);
    assert!(
        !String::from_utf8(second.clone())
            .unwrap()
            .contains("@example.com")
    );
    // Without personal data requested, openings are withheld, not leaked.
    assert!(
        String::from_utf8(second.clone())
            .unwrap()
            .contains("\"personal\":\"withheld\"")
    );
    // The pair in the wrong order does not verify.
    assert!(verify_export_pair(&second, &first, &verifier()).is_err());

    // Exports are audited: the log now holds two export events with the digests.
    f.log.shutdown().await.unwrap();
    let bytes = f.log_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(text.matches("\"action\":\"audit.export.jsonl\"").count(), 2);
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&first));
    assert!(text.contains(&format!("sha256={digest} entries=31 tree_size=31")));
    let notes = f.notes().await;
    assert!(verify_log(&bytes, &notes, &verifier(), None, Options::default()).is_verified());
}

#[tokio::test]
async fn a_forged_export_checkpoint_is_rejected() {
    let f = fixture(5, 100).await;
    let out = export(
        &f.log,
        &ExportRequest::all(ExportFormat::JsonLines),
        auditor(),
    )
    .await
    .unwrap();
    let stranger = coffer_audit::CheckpointSigner::new(ORIGIN, &seed(9)).unwrap();
    let failure = verify_export(&out, &stranger.verifier()).unwrap_err();
    assert_eq!(failure.kind, FailureKind::BadCheckpoint);
}

#[tokio::test]
async fn csv_cef_and_syslog_render_and_neutralise_injection() {
    let f = fixture(0, 100).await;
    f.log
        .record(
            EventDraft::new("record.restore", Outcome::Denied)
                .user("local", "=HYPERLINK(\"http://evil\",\"x\")")
                .source_ip("::ffff:192.0.2.1".parse().unwrap())
                .target(Target {
                    org: Some("00D|org=1]".into()),
                    object: Some("+Account".into()),
                    ..Target::default()
                })
                .detail("a,b \"c\" \\ d"),
        )
        .await
        .unwrap();
    let include = |format| ExportRequest {
        include_personal: true,
        hostname: Some("coffer-1".into()),
        ..ExportRequest::all(format)
    };

    let csv = String::from_utf8(
        export(&f.log, &include(ExportFormat::Csv), auditor())
            .await
            .unwrap(),
    )
    .unwrap();
    let rows: Vec<&str> = csv.split("\r\n").collect();
    assert!(rows[0].starts_with("index,leaf_hash,seq,timestamp,idp,user,action,org,object"));
    assert!(
        rows[1].contains(",\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\","),
        "{}",
        rows[1]
    );
    assert!(rows[1].contains(",'+Account,"));
    assert!(rows[1].contains(",192.0.2.1,denied,"));
    assert!(rows[1].contains(",\"a,b \"\"c\"\" \\ d\""));
    assert_eq!(
        rows.len(),
        3,
        "header, one row, empty tail after the last CRLF"
    );

    let cef = String::from_utf8(
        export(&f.log, &include(ExportFormat::Cef), auditor())
            .await
            .unwrap(),
    )
    .unwrap();
    let line = cef.lines().next().unwrap();
    assert!(line.starts_with("CEF:0|Coffer|coffer-audit|"));
    assert!(line.contains("|record.restore|record.restore|8|"));
    assert!(line.contains("src=192.0.2.1"));
    assert!(line.contains("cs3=00D|org\\=1]"));
    assert!(
        line.contains("suser=\\=HYPERLINK(\"http://evil\",\"x\")"),
        "{line}"
    );
    // CEF output holds one event per line: the previous export event follows on line 2.
    assert_eq!(cef.lines().count(), 2);

    let syslog = String::from_utf8(
        export(&f.log, &include(ExportFormat::Syslog), auditor())
            .await
            .unwrap(),
    )
    .unwrap();
    let line = syslog.lines().next().unwrap();
    // Facility 13, severity 5 (notice) for a denied action.
    assert!(line.starts_with("<109>1 "), "{line}");
    assert!(line.contains(" coffer-1 coffer - audit [coffer@32473 seq=\"0\""));
    assert!(line.contains("org=\"00D|org=1\\]\""));
    assert!(line.contains("detail=\"a,b \\\"c\\\" \\\\ d\""));
    assert!(line.ends_with(" record.restore denied"));

    f.log.shutdown().await.unwrap();
    let text = String::from_utf8(f.log_bytes()).unwrap();
    for format in ["csv", "cef", "syslog"] {
        assert!(text.contains(&format!("\"action\":\"audit.export.{format}\"")));
    }
}
