//! `auditbook ingest` (placeholder until written).
use crate::cli::GlobalArgs;
use crate::{Outcome, Result};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _global: &GlobalArgs) -> Result<Outcome> {
    Err(crate::Error::Usage("not yet available".into()))
}
