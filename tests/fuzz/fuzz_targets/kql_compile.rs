//! Arbitrary bytes (UTF-8 lossy) through the whole KQL compiler (parse, bind against the
//! AuditLogs schema, prune, SQL generation and printing): never a panic. The SQL is not run.
#![no_main]

use std::sync::LazyLock;

use auditbook::kql::{Catalog, compile};
use libfuzzer_sys::fuzz_target;

/// 2026-11-01T00:00:00Z, the `now` of the KQL corpus tests.
const NOW: i64 = 1_793_491_200_000_000_000;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::new().with_table("AuditLogs", auditbook::schema::audit_logs_schema())
});

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    if let Ok(compiled) = compile(&src, &CATALOG, NOW) {
        let _ = compiled.sql();
    }
});
