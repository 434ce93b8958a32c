//! Synthetic tenant and export writers (placeholder).
