//! Built-in workbooks: the native YAML files of `workbooks/`, embedded in the binary so that
//! `auditbook run NAME` works without any file at hand.

/// A built-in workbook: its name (the file stem) and its native YAML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    pub text: &'static str,
}

/// `builtin!("name")`: the workbook `workbooks/name.yaml`, embedded.
macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$(Builtin {
            name: $name,
            text: include_str!(concat!("../../workbooks/", $name, ".yaml")),
        }),*]
    };
}

/// Sorted by name.
static ALL: &[Builtin] = builtin![
    "access-at",
    "access-package-activity",
    "app-role-assignment-activity",
    "assignments",
    "connected-orgs",
    "request-status",
    "user-packages",
    "user-resources",
];

/// Every built-in workbook, sorted by name.
pub fn all() -> &'static [Builtin] {
    ALL
}

/// The built-in workbook named `name` (a file stem, e.g. `access-package-activity`).
pub fn find(name: &str) -> Option<&'static Builtin> {
    ALL.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workbook::{ItemKind, native};
    use std::path::Path;

    #[test]
    fn every_builtin_loads() {
        assert_eq!(all().len(), 8);
        assert!(all().windows(2).all(|w| w[0].name < w[1].name));
        for b in all() {
            let wb = native::from_native(b.text, Path::new(b.name))
                .unwrap_or_else(|d| panic!("{}: {d:?}", b.name));
            assert!(wb.description.is_some(), "{}", b.name);
            assert!(
                wb.items
                    .iter()
                    .any(|i| matches!(i.kind, ItemKind::Query(_))),
                "{}",
                b.name
            );
        }
        assert_eq!(
            find("access-package-activity").map(|b| b.name),
            Some("access-package-activity")
        );
        assert!(find("nope").is_none());
    }

    /// Whitespace runs collapsed: queries laid out over lines compare equal to one-liners.
    fn collapsed(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn query_texts(items: &[crate::workbook::Item]) -> Vec<String> {
        items
            .iter()
            .filter_map(|i| match &i.kind {
                ItemKind::Query(q) => Some(collapsed(&q.query.text)),
                _ => None,
            })
            .collect()
    }

    fn params_of(items: &[crate::workbook::Item]) -> Vec<crate::workbook::Parameter> {
        let mut out = Vec::new();
        for i in items {
            if let ItemKind::Parameters(ps) = &i.kind {
                for p in ps {
                    let mut p = p.clone();
                    if let crate::workbook::Choices::Query { query, .. } = &mut p.choices {
                        query.text = collapsed(&query.text);
                        query.map = None;
                    }
                    out.push(p);
                }
            }
        }
        out
    }

    /// The built-ins say what Microsoft's workbooks say: same parameters (names, choices,
    /// defaults), same queries up to layout, same step settings.
    #[test]
    fn builtins_match_microsoft_workbooks() {
        let dir = Path::new("/work/shared/reference/workbooks");
        for (builtin, file) in [
            (
                "access-package-activity",
                "EntitlementManagementAccessPackageActivity.workbook",
            ),
            (
                "app-role-assignment-activity",
                "EntitlementManagementAppRoleAssignments.workbook",
            ),
        ] {
            let Ok(text) = std::fs::read_to_string(dir.join(file)) else {
                return;
            };
            let ms = crate::workbook::azure::from_azure(&text, &dir.join(file)).unwrap();
            let b = find(builtin).unwrap();
            let ours = native::from_native(b.text, Path::new(b.name)).unwrap();
            assert_eq!(ours.title, ms.title);
            assert_eq!(params_of(&ours.items), params_of(&ms.items), "{builtin}");
            assert_eq!(
                query_texts(&ours.items),
                query_texts(&ms.items),
                "{builtin}"
            );
            let settings = |items: &[crate::workbook::Item]| {
                items
                    .iter()
                    .filter_map(|i| match &i.kind {
                        ItemKind::Query(q) => Some((
                            q.title.clone(),
                            q.no_data_message.clone(),
                            q.time_context.clone(),
                            q.labels.clone(),
                            q.row_limit,
                        )),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(settings(&ours.items), settings(&ms.items), "{builtin}");
        }
    }

    #[test]
    fn load_by_path_or_builtin_name() {
        use crate::workbook::{FileFormat, load, load_builtin_or_path};
        let wb = load_builtin_or_path("access-package-activity").unwrap();
        assert_eq!(
            wb.source.path,
            Path::new("workbooks/access-package-activity.yaml")
        );
        assert_eq!(wb.source.format, FileFormat::Native);
        let wb = load_builtin_or_path("app-role-assignment-activity.yaml").unwrap();
        assert_eq!(wb.title, "Application role assignment activity");
        match load_builtin_or_path("no-such-workbook") {
            Err(crate::Error::Usage(m)) => {
                assert!(m.contains("no such file"), "{m}");
                assert!(
                    m.contains("access-package-activity, app-role-assignment-activity"),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workbooks");
        let wb =
            load_builtin_or_path(fixtures.join("role-time.workbook").to_str().unwrap()).unwrap();
        assert_eq!(wb.source.format, FileFormat::Azure);
        assert_eq!(
            load(&fixtures.join("sampler.yaml")).unwrap().source.format,
            FileFormat::Native
        );
        // Other extensions are sniffed.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("book.txt");
        std::fs::write(&p, "\u{feff}{\"version\": \"Notebook/1.0\", \"items\": []}").unwrap();
        assert_eq!(load(&p).unwrap().source.format, FileFormat::Azure);
        std::fs::write(&p, "title: T\n").unwrap();
        assert_eq!(load(&p).unwrap().title, "T");
        // Problems come back as diagnostics naming the file.
        std::fs::write(&p, "title: T\nstepz: []\n").unwrap();
        match load(&p) {
            Err(crate::Error::Diagnostics {
                file, diagnostics, ..
            }) => {
                assert!(file.ends_with("book.txt"));
                assert_eq!(diagnostics[0].code, "WB0111");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            load(&dir.path().join("missing.yaml")),
            Err(crate::Error::Io { .. })
        ));
    }
}
