//! Output formats (placeholder).
