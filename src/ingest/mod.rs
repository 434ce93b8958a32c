//! Ingestion (placeholder).
