//! Ingest throughput: splitting and converting Graph NDJSON records (`read_file` into a sink that
//! only counts), and turning canonical records into Arrow batches. Throughput is in input bytes.

use std::path::Path;

use auditbook::ingest::InputFormat;
use auditbook::ingest::read::{Position, Sink, read_file};
use auditbook::record::{AuditRecord, records_to_batch};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A Graph NDJSON export of `n` entitlement-management records, as Entra writes them.
fn export(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(format!(
            r#"{{"id":"Directory_{i:08}_ZK4QX_11843","category":"EntitlementManagement","correlationId":"7f1c0a2e-9d2b-4f7e-8a51-{i:012}","result":"success","resultReason":"","activityDisplayName":"User requests access package assignment","activityDateTime":"2026-10-01T09:{m:02}:02.7215374Z","loggedByService":"Entitlement Management","operationType":"CreateEntitlementGrantUserAddRequest","initiatedBy":{{"user":{{"id":"0b6e4a2d-1c3f-4e5a-9b7c-8d9e0f1a2b3c","displayName":"Maya Lindqvist","userPrincipalName":"maya.lindqvist@fabrikam.example","ipAddress":"203.0.113.24","userType":"Member","homeTenantId":null,"homeTenantName":null}},"app":null}},"targetResources":[{{"id":"a1b2c3d4-0001-4000-8000-000000000001","displayName":"Sales Onboarding","type":"AccessPackage","userPrincipalName":null,"groupType":null,"modifiedProperties":[]}},{{"id":"a1b2c3d4-0002-4000-8000-000000000002","displayName":"Employees self-request","type":"AccessPackageAssignmentPolicy","modifiedProperties":[]}},{{"id":"0b6e4a2d-1c3f-4e5a-9b7c-8d9e0f1a2b3c","displayName":"Maya Lindqvist","type":"User","userPrincipalName":"maya.lindqvist@fabrikam.example","modifiedProperties":[]}}],"additionalDetails":[]}}"#,
            m = i % 60
        ).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

struct Keep(Vec<AuditRecord>);

impl Sink for Keep {
    fn accept(&mut self, record: AuditRecord) -> auditbook::Result<()> {
        self.0.push(record);
        Ok(())
    }
    fn reject(
        &mut self,
        _: &Path,
        _: &str,
        _: Position,
        reason: &str,
        _: &[u8],
    ) -> auditbook::Result<()> {
        panic!("rejected: {reason}")
    }
}

fn bench(c: &mut Criterion) {
    let n = 10_000;
    let input = export(n);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.sample_size(20);
    let read_all = || {
        let mut sink = Keep(Vec::with_capacity(n));
        read_file(
            Path::new("bench.ndjson"),
            &mut input.as_slice(),
            InputFormat::Auto,
            &mut sink,
        )
        .unwrap();
        assert_eq!(sink.0.len(), n);
        sink.0
    };
    group.bench_function("graph_ndjson_read_convert", |b| b.iter(read_all));
    let records = read_all();
    group.bench_function("records_to_arrow_batch", |b| {
        b.iter(|| records_to_batch(&records).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
