//! Reproductions of DataFusion 55 bugs that auditbook works around or documents. Ignored by
//! default (slow, and about DataFusion, not auditbook): `cargo test --test datafusion_bugs --
//! --ignored` tells whether a new DataFusion still has them.

mod util;

use auditbook::engine::Engine;

/// `min(CASE WHEN p THEN t END)` beside `max(t2)` over `Timestamp(ns, UTC)` columns sometimes
/// loses a partition's minimum with more than one target partition (about 1 run in 4 over
/// `sample-data/`; never with `target_partitions = 1`, never with BIGINT columns alone). The KQL
/// corpus runs with one partition so that its snapshots do not depend on it.
#[test]
#[ignore]
fn min_and_max_of_timestamps_in_one_aggregate_are_racy() {
    let q = "SELECT min(CASE WHEN \"Result\" = 'failure' THEN \"TimeGenerated\" END) AS a, \
             max(\"ActivityDateTime\") AS c FROM \"AuditLogs\"";
    let truth =
        "SELECT min(\"TimeGenerated\") AS a FROM \"AuditLogs\" WHERE \"Result\" = 'failure'";
    let mut wrong = 0;
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        util::ingest(dir.path(), &[util::repo("sample-data")]);
        let e = Engine::open(dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let first = |sql: &str| {
            let b =
                rt.block_on(async { e.context().sql(sql).await.unwrap().collect().await.unwrap() });
            arrow::util::display::array_value_to_string(b[0].column(0), 0).unwrap()
        };
        if first(q) != first(truth) {
            wrong += 1;
        }
    }
    assert_eq!(wrong, 0, "{wrong} of 20 runs gave a wrong minimum");
}
