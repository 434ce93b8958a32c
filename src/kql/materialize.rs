//! `materialize()`: a relation computed once per query, whatever the number of its uses.
//!
//! A `let` clones its relation into every place that names it, and DataFusion inlines common
//! table expressions, so `let em = materialize(AuditLogs | mv-apply ...)` read by five
//! sub-queries would otherwise scan and expand the log five times. The binder marks the
//! relation ([`RelKind::Materialized`]); [`extract`], run on the binder's output before any
//! pass (so every copy is still identical), replaces each copy by a scan of one named table and
//! returns the relations to compute first (inner ones before the ones that read them), which
//! are then optimized as queries of their own. The engine runs those as separate statements,
//! holds their rows in memory, and plans the query with them registered under their names.

use crate::kql::ir::{Rel, RelKind};

/// The prefix of the tables that hold materialized relations (not a name KQL can write: the
/// binder's tables come from the catalog).
pub const TABLE_PREFIX: &str = "__materialized_";

/// `rel` with every materialized relation replaced by a scan of its table, and the tables to
/// compute first, in dependency order: `(name, relation)`.
pub fn extract(rel: Rel) -> (Rel, Vec<(String, Rel)>) {
    let mut tables = Vec::new();
    let rel = replace(rel, &mut tables);
    (rel, tables)
}

fn replace(rel: Rel, tables: &mut Vec<(String, Rel)>) -> Rel {
    let rel = rel
        .map_inputs(&mut |r| replace(r, tables))
        .map_exprs(&mut |e| e.map_subqueries(&mut |r| replace(r, tables)));
    match rel.kind {
        RelKind::Materialized { input } => {
            // Copies are equal (the passes do not cross the boundary): one table serves all.
            let name = match tables.iter().find(|(_, body)| *body == *input) {
                Some((name, _)) => name.clone(),
                None => {
                    let name = format!("{TABLE_PREFIX}{}", tables.len() + 1);
                    tables.push((name.clone(), *input));
                    name
                }
            };
            Rel {
                kind: RelKind::Scan { table: name },
                columns: rel.columns,
                order: rel.order,
            }
        }
        kind => Rel { kind, ..rel },
    }
}

#[cfg(test)]
mod tests {
    use crate::kql::{Catalog, compile};

    fn catalog() -> Catalog {
        Catalog::new().with_table("AuditLogs", crate::schema::audit_logs_schema())
    }

    #[test]
    fn one_table_serves_every_use_and_inner_tables_come_first() {
        let c = compile(
            "let a = materialize(AuditLogs | summarize n = count() by Category);\n\
             let b = materialize(a | where n > 1);\n\
             union (a | project Category), (b | project Category), (a | where n > 2 | project Category)",
            &catalog(),
            0,
        )
        .unwrap();
        let names: Vec<_> = c.materialized.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["__materialized_1", "__materialized_2"]);
        let main = c.sql();
        assert!(!main.contains("AuditLogs"), "{main}");
        assert!(main.contains("\"__materialized_1\"") && main.contains("\"__materialized_2\""));
        let inner = c.materialized[1].1.to_string();
        assert!(inner.contains("\"__materialized_1\""), "{inner}");
        assert!(c.materialized[0].1.to_string().contains("AuditLogs"));
    }

    #[test]
    fn without_materialize_nothing_is_extracted() {
        let c = compile("let a = AuditLogs | take 1; a | union a", &catalog(), 0).unwrap();
        assert!(c.materialized.is_empty());
    }

    #[test]
    fn a_table_read_in_a_subquery_too_is_computed_once_with_its_prefilter() {
        // The relation is taken out before the passes, so its copy in the `in` subquery is the
        // same table as the other (not a second, differently optimized one), and the table gets
        // its pre-expansion filter.
        let c = compile(
            "let m = materialize(AuditLogs | mv-expand u = TargetResources\n\
             | where tostring(u.id) == \"x\" | project Id, CorrelationId);\n\
             m | where CorrelationId in ((m | project CorrelationId))",
            &catalog(),
            0,
        )
        .unwrap();
        assert_eq!(c.materialized.len(), 1, "{:?}", c.materialized);
        let body = c.materialized[0].1.to_string();
        assert!(
            body.contains("kql_list_has(\"TargetResources\", 'id', 'x')"),
            "{body}"
        );
    }
}
