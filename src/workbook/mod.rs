//! Workbooks (DESIGN §6): Azure Monitor `Notebook/1.0` JSON and native YAML files load into one
//! [`model::Workbook`]; parameters resolve in dependency order ([`params`]); placeholders bind
//! into query text without ever changing its structure ([`bind`]); [`run`] executes the visible
//! steps and [`output`] writes the results in every format.

pub mod azure;
pub mod bind;
pub mod builtin;
pub mod model;
pub mod native;
pub mod output;
pub mod params;
pub mod run;

pub use model::*;

/// Loads the workbook file at `path`: `.yaml`/`.yml` as native YAML, `.json`/`.workbook` as
/// Azure JSON (also the ARM-template form); any other extension is sniffed (a file whose first
/// non-blank character is `{` is Azure JSON, anything else native YAML).
pub fn load(path: &std::path::Path) -> crate::Result<Workbook> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let native = match ext.as_deref() {
        Some("yaml" | "yml") => true,
        Some("json" | "workbook") => false,
        _ => !text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('{'),
    };
    let loaded = if native {
        native::from_native(&text, path)
    } else {
        azure::from_azure(&text, path)
    };
    loaded.map_err(|diagnostics| crate::Error::Diagnostics {
        file: path.display().to_string(),
        text,
        diagnostics,
    })
}

/// Loads `arg` as a workbook file when such a file exists, else the built-in workbook named
/// `arg` (with or without `.yaml`; its path reads `workbooks/NAME.yaml`).
pub fn load_builtin_or_path(arg: &str) -> crate::Result<Workbook> {
    let path = std::path::Path::new(arg);
    if path.is_file() {
        return load(path);
    }
    let name = arg.strip_suffix(".yaml").unwrap_or(arg);
    if let Some(b) = builtin::find(name) {
        let shown = format!("workbooks/{}.yaml", b.name);
        return native::from_native(b.text, std::path::Path::new(&shown)).map_err(|diagnostics| {
            crate::Error::Diagnostics {
                file: shown.clone(),
                text: b.text.to_string(),
                diagnostics,
            }
        });
    }
    let names: Vec<&str> = builtin::all().iter().map(|b| b.name).collect();
    Err(crate::Error::Usage(format!(
        "workbook `{arg}`: no such file, and no built-in workbook of that name (built-in: {})",
        names.join(", ")
    )))
}
