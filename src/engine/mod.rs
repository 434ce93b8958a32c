//! DataFusion engine (placeholder).
