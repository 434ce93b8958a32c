//! Built-in workbooks: the native YAML files of `workbooks/`, embedded in the binary so that
//! `auditbook run NAME` works without any file at hand.

/// A built-in workbook: its name (the file stem) and its native YAML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    pub text: &'static str,
}

static ALL: &[Builtin] = &[
    Builtin {
        name: "access-package-activity",
        text: include_str!("../../workbooks/access-package-activity.yaml"),
    },
    Builtin {
        name: "app-role-assignment-activity",
        text: include_str!("../../workbooks/app-role-assignment-activity.yaml"),
    },
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
        assert_eq!(all().len(), 2);
        for b in all() {
            let wb = native::from_native(b.text, Path::new(b.name))
                .unwrap_or_else(|d| panic!("{}: {d:?}", b.name));
            assert!(wb.description.is_some(), "{}", b.name);
            assert!(
                wb.items.iter().any(|i| matches!(i.kind, ItemKind::Query(_))),
                "{}",
                b.name
            );
        }
        assert_eq!(find("access-package-activity").map(|b| b.name), Some("access-package-activity"));
        assert!(find("nope").is_none());
    }
}
