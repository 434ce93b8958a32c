//! auditbook: offline analytics for Microsoft Entra ID audit logs.
//!
//! Export files are ingested ([`ingest`]) into a time-partitioned Parquet dataset ([`store`]) of the
//! canonical `AuditLogs` table ([`schema`], [`record`]); the [`engine`] registers it in DataFusion
//! and [`render`] prints results. [`generate`] writes realistic synthetic exports.

pub mod allocator;
pub mod cli;
pub mod diagnostic;
pub mod engine;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod kql;
pub mod record;
pub mod render;
pub mod schema;
pub mod snapshot_schema;
pub mod store;
pub mod time;
pub mod workbook;

pub use error::{Error, Outcome, Result};
