//! KQL functions DataFusion lacks, registered as UDFs (placeholder until the UDF module lands).
use datafusion::prelude::SessionContext;

/// Registers every `kql_*` function on the session.
pub fn register(_ctx: &SessionContext) {}
