//! The `auditbook` binary: parse arguments, run the command, map the outcome to an exit code
//! (0 ok, 1 partial: quarantined records / no data / failed check, 2 error).

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: auditbook::allocator::Allocator = auditbook::allocator::Allocator {};

fn main() -> ExitCode {
    auditbook::allocator::keep_freed_memory();
    match auditbook::cli::run() {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        // Diagnostics render themselves (`error[KQL0201]: ...` with the source line and a caret).
        Err(e @ auditbook::Error::Diagnostics { .. }) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
