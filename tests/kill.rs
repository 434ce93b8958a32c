//! Crash safety: `auditbook ingest` killed with SIGKILL at random moments of a large ingest,
//! repeatedly. After every kill the dataset must be readable and hold either nothing of that
//! ingest or all of it (never a part, never a duplicate); a final run completes with exact counts.

mod util;

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use util::*;

const RECORDS: u64 = 120_000;
const ROUNDS: usize = 10;

/// A large Graph NDJSON export: `RECORDS` distinct records over 40 days.
fn write_export(path: &std::path::Path) {
    let mut w = BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..RECORDS {
        let secs = 1_790_000_000 + i * 29; // about 40 days
        let t =
            chrono::DateTime::from_timestamp(secs as i64, (i % 10_000_000) as u32 * 100).unwrap();
        writeln!(
            w,
            r#"{{"id":"Directory_kill_{i:08}","category":"EntitlementManagement","correlationId":"c-{c}","result":"success","resultReason":"","activityDisplayName":"Approve access package assignment request","activityDateTime":"{t}","loggedByService":"Entitlement Management","operationType":"Update","initiatedBy":{{"user":{{"id":"u-{u}","displayName":"User {u}","userPrincipalName":"user{u}@fabrikam.example"}}}},"targetResources":[{{"id":"ap-{p}","displayName":"Package {p}","type":"AccessPackage","modifiedProperties":[]}}],"additionalDetails":[]}}"#,
            c = i / 4,
            u = i % 500,
            p = i % 12,
            t = t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        )
        .unwrap();
    }
}

fn stored(data: &std::path::Path) -> (u64, u64) {
    let r = one(
        data,
        r#"SELECT count(*) AS n, count(DISTINCT "Id") AS ids FROM "AuditLogs""#,
    );
    (r["n"].as_u64().unwrap(), r["ids"].as_u64().unwrap())
}

/// A small deterministic generator for the kill delays (printed, so a failure can be replayed).
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn sigkill_at_random_points_leaves_the_dataset_before_or_after() {
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("big.ndjson");
    write_export(&export);

    // How long an uninterrupted ingest takes here, to spread the kills over all of it.
    let probe = tmp.path().join("probe");
    let start = Instant::now();
    let (summary, _) = ingest(&probe, &[export.clone()]);
    let full = start.elapsed();
    assert_eq!(counts(&summary), (RECORDS, RECORDS, 0, 0));

    let data = tmp.path().join("data");
    let mut seed = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("kill test: full ingest {full:?}, KILL_SEED={seed}");
    let mut committed_before_kill = 0;
    for round in 0..ROUNDS {
        // Half the kills anywhere in the run, half in its last part (staging, dedupe, commit).
        let span = full.as_micros() as u64;
        let micros = if round % 2 == 0 {
            next(&mut seed) % span.max(1)
        } else {
            span / 2 + next(&mut seed) % span.max(1)
        };
        let delay = Duration::from_micros(micros);
        let mut child = bin()
            .arg("--data")
            .arg(&data)
            .arg("ingest")
            .arg("--quiet")
            .arg(&export)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let (n, ids) = stored(&data);
        eprintln!("round {round}: killed after {delay:?} ({status}); dataset holds {n}");
        assert_eq!(n, ids, "no duplicate after a kill");
        assert!(
            n == 0 || n == RECORDS,
            "all or nothing, found {n} of {RECORDS}"
        );
        if n == RECORDS {
            committed_before_kill += 1;
        }
    }
    // No leftovers that a reader could mistake for data.
    let (before, _) = stored(&data);
    let (summary, run) = ingest(&data, &[export.clone()]);
    assert_eq!(run.code, 0);
    assert_eq!(counts(&summary), (RECORDS, RECORDS - before, before, 0));
    assert_eq!(stored(&data), (RECORDS, RECORDS));
    let staging = data.join("_auditbook/staging");
    assert!(
        !staging.exists() || std::fs::read_dir(&staging).unwrap().count() == 0,
        "staging cleared"
    );
    assert!(!data.join("_auditbook/journal.json").exists());
    eprintln!("after {committed_before_kill} of {ROUNDS} rounds the dataset held the whole ingest");
}
