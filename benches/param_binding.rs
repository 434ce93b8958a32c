//! Parameter binding time (`auditbook::workbook::bind::bind_query`): placeholders replaced by
//! values, lexer-aware, for every query of the two built-in Microsoft workbooks
//! (`workbooks/access-package-activity.yaml`, `workbooks/app-role-assignment-activity.yaml`):
//! their steps and their query-backed drop-downs, as KQL. The same steps are also bound as SQL
//! (hand-written DataFusion SQL renditions with placeholders in string literals, in quoted
//! identifiers, between tokens and in a comment), since workbook steps may be SQL.
//!
//! Each query is bound with plain values (what the command line usually gives) and with hostile
//! values (quotes of both kinds, backslashes, newlines, a `{Other}` placeholder, a KQL pipe and
//! a SQL comment): binding must escape them, never change the query's structure. Before timing,
//! every bound KQL text is compiled once (`auditbook::kql::compile`) to check it is still one
//! valid query.

use std::collections::HashMap;
use std::hint::black_box;

use auditbook::kql::{Catalog, compile};
use auditbook::workbook::bind::{Resolved, Scope, TimeRange, bind_query};
use auditbook::workbook::{Choices, ItemKind, Lang, Workbook, load_builtin_or_path};
use criterion::{Criterion, criterion_group, criterion_main};

/// 2026-11-01T00:00:00Z: `now` of the run (the generator's window ends there).
const NOW: i64 = 1_793_491_200_000_000_000;
const DAY: i64 = 86_400_000_000_000;

/// Text a user could type that tries every way out of a literal.
const HOSTILE: &str = "x\" or 1==1 | take 1 // ' \\\" \\ \n-- {Since} {Time:value} ') OR (1=1 /* }";

/// Parameter values by name.
struct Values(HashMap<String, Resolved>);

impl Scope for Values {
    fn lookup(&self, name: &str) -> Option<&Resolved> {
        self.0.get(name)
    }
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.keys().cloned().collect();
        names.sort();
        names
    }
}

/// A value from the command line or a query result (never raw query text).
fn given(value: &str) -> Resolved {
    Resolved::One {
        value: value.to_string(),
        label: None,
        authored: false,
    }
}

/// A value written in the workbook file (a static choice): may expand to raw text.
fn authored(value: &str) -> Resolved {
    Resolved::One {
        value: value.to_string(),
        label: None,
        authored: true,
    }
}

const ACTIVITIES: &[&str] = &[
    "Add app role assignment grant to user",
    "Add app role assignment to group",
    "Add app role assignment to service principal",
    "Add a deletion-marked app role assignment grant to user as part of link removal",
    "Add a deletion-marked app role assignment grant to group as part of link removal",
    "Add a deletion-marked app role assignment grant to service principal as part of link removal",
    "Remove app role assignment from user",
    "Remove app role assignment from group",
    "Remove app role assignment from service principal",
];

/// The values of both workbooks' parameters: plain, or with hostile text in every value a user
/// or a query result can set.
fn values(hostile: bool) -> Values {
    let free = |plain: &str| {
        if hostile {
            given(&format!("{plain}{HOSTILE}"))
        } else {
            given(plain)
        }
    };
    let mut activities: Vec<(String, Option<String>)> =
        ACTIVITIES.iter().map(|a| (a.to_string(), None)).collect();
    if hostile {
        activities.push((HOSTILE.to_string(), None));
    }
    let mut m = HashMap::new();
    // access-package-activity
    m.insert("Since".to_string(), authored("30d"));
    m.insert(
        "AccessPackageId".to_string(),
        free("e6c2a2d1-c2b6-4348-a018-4b6ea2991206"),
    );
    // app-role-assignment-activity
    m.insert(
        "Time".to_string(),
        Resolved::Time(TimeRange {
            range: Some((NOW - 30 * DAY, NOW)),
            duration: Some(30 * DAY),
        }),
    );
    m.insert(
        "Activities".to_string(),
        Resolved::Many {
            items: activities,
            all: false,
            all_value: None,
            // Picked on the command line: literals, whatever they hold.
            authored: !hostile,
            quote: "'".to_string(),
            delimiter: ",".to_string(),
        },
    );
    m.insert("Appname".to_string(), free("AWS Gateway API"));
    m.insert(
        "ExcludedInitiatorAppName".to_string(),
        authored("Azure AD Identity Governance - User Management"),
    );
    Values(m)
}

/// `(id, query text)` of every step and query-backed parameter of a workbook, in file order.
fn queries(wb_name: &str, wb: &Workbook) -> Vec<(String, String, Lang)> {
    fn walk(
        prefix: &str,
        items: &[auditbook::workbook::Item],
        out: &mut Vec<(String, String, Lang)>,
    ) {
        for item in items {
            match &item.kind {
                ItemKind::Parameters(ps) => {
                    for p in ps {
                        if let Choices::Query { query, lang } = &p.choices {
                            out.push((
                                format!("{prefix}/param.{}", p.name),
                                query.text.clone(),
                                *lang,
                            ));
                        }
                    }
                }
                ItemKind::Query(q) => out.push((
                    format!("{prefix}/step.{}", item.name),
                    q.query.text.clone(),
                    q.lang,
                )),
                ItemKind::Group(g) => walk(prefix, &g.items, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(wb_name, &wb.items, &mut out);
    out
}

/// SQL renditions of the two workbooks' main steps, placeholders in every SQL context.
const SQL: &[(&str, &str)] = &[
    (
        "access-package-activity/step.events.sql",
        r#"-- Access package {AccessPackageId}: successful entitlement management events
SELECT "Time", t['id'] AS "AccessPackageId", "OperationName",
       "InitiatedBy"['user']['id'] AS "InitiatedById",
       "InitiatedBy"['user']['userPrincipalName'] AS "InitiatedByUPN",
       "Identity" AS "InitiatedByDisplayName", "AdditionalDetails"
FROM (
  SELECT "TimeGenerated" AS "Time", "OperationName", "InitiatedBy", "Identity", "AdditionalDetails",
         unnest("TargetResources") AS t
  FROM "AuditLogs"
  WHERE "TimeGenerated" {Time} AND "Category" = 'EntitlementManagement' AND "Result" = 'success'
)
WHERE t['type'] = 'AccessPackage' AND t['id'] = '{AccessPackageId}' AND t['id'] = {AccessPackageId}
ORDER BY "Time" DESC"#,
    ),
    (
        "app-role-assignment-activity/step.assignments.sql",
        r#"SELECT "ActivityDateTime" AS "DateTime", "ActivityDisplayName",
       "InitiatedBy"['user']['userPrincipalName'] AS "ByUPN",
       t['displayName'] AS "App {Appname}", t['modifiedProperties'] AS "MP"
FROM (
  SELECT "ActivityDateTime", "ActivityDisplayName", "InitiatedBy", unnest("TargetResources") AS t
  FROM "AuditLogs"
  WHERE "TimeGenerated" BETWEEN {Time:start} AND {Time:end}
    AND "Category" IN ('UserManagement', 'GroupManagement', 'ApplicationManagement')
    AND "Result" = 'success' AND "ActivityDisplayName" IN ({Activities})
    AND "InitiatedBy"['app']['displayName'] IS DISTINCT FROM '{ExcludedInitiatorAppName}'
) /* {Appname} */
WHERE t['displayName'] = '{Appname}' AND cardinality(t['modifiedProperties']) > 0
ORDER BY 1 DESC"#,
    ),
];

fn bench(c: &mut Criterion) {
    let catalog = Catalog::new().with_table("AuditLogs", auditbook::schema::audit_logs_schema());
    let mut kql = Vec::new();
    for name in ["access-package-activity", "app-role-assignment-activity"] {
        let wb = load_builtin_or_path(name).unwrap_or_else(|e| panic!("workbook {name}: {e}"));
        kql.extend(queries(name, &wb));
    }
    assert!(
        kql.iter().all(|(_, _, lang)| *lang == Lang::Kql),
        "the built-in workbooks are KQL"
    );
    assert!(kql.len() >= 4, "steps and drop-downs of both workbooks");
    let sql: Vec<(String, String, Lang)> = SQL
        .iter()
        .map(|(id, q)| (id.to_string(), q.to_string(), Lang::Sql))
        .collect();

    for (variant, scope) in [("plain", values(false)), ("hostile", values(true))] {
        // Checked once, untimed: binding succeeds, and bound KQL is still one valid query.
        for (id, text, lang) in kql.iter().chain(&sql) {
            let bound = bind_query(text, *lang, &scope)
                .unwrap_or_else(|d| panic!("{id} ({variant}): binding failed: {d:?}"));
            if *lang == Lang::Kql {
                compile(&bound.text, &catalog, NOW).unwrap_or_else(|d| {
                    panic!(
                        "{id} ({variant}): bound text does not compile: {d:?}\n{}",
                        bound.text
                    )
                });
            }
        }
        for (group_name, list) in [("bind_kql", &kql), ("bind_sql", &sql)] {
            let mut group = c.benchmark_group(format!("{group_name}_{variant}"));
            for (id, text, lang) in list.iter() {
                group.bench_function(id.as_str(), |b| {
                    b.iter(|| bind_query(black_box(text), *lang, &scope).unwrap())
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
