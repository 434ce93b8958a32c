//! The process's memory allocator: mimalloc, told to keep the memory it frees.
//!
//! By default mimalloc returns freed memory to the kernel a second later, and the kernel zeroes
//! every page again when it is touched next. An ingest frees and refills its column builders
//! every 2,048 records, and a query its Parquet pages every batch, so that zeroing was 8 % of the
//! cycles in `perf` (`clear_page_erms`). Keeping freed memory costs nothing in peak memory (the
//! peak is reached anyway) and measured, on the 1M-event benchmark set, 4.72 → 4.29 s of ingest
//! wall time and 1.3 → 0.7 s of system time (`BENCHMARKS.md`).

use std::os::raw::{c_int, c_long};

/// mimalloc itself, for `#[global_allocator]` in the binaries (`src/main.rs`, the benches).
pub type Allocator = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in `mimalloc.h` (v3, as bundled by `libmimalloc-sys` 0.1.49, the
/// version `Cargo.lock` pins): the 16th option. The crate's bindings do not name it.
const PURGE_DELAY: c_int = 15;

unsafe extern "C" {
    fn mi_option_set(option: c_int, value: c_long);
    fn mi_option_get(option: c_int) -> c_long;
}

/// Freed memory stays with the process instead of going back to the kernel (`-1`: never
/// purge). Called first thing in `main`; harmless when the global allocator is another one.
pub fn keep_freed_memory() {
    // SAFETY: plain setters of mimalloc's option table, callable at any time from any thread.
    unsafe { mi_option_set(PURGE_DELAY, -1) }
}

/// The purge delay in force (milliseconds; -1: never).
pub fn purge_delay() -> c_long {
    // SAFETY: a plain getter of mimalloc's option table.
    unsafe { mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number is the purge delay of the linked mimalloc: its default in
    /// `options.c`, 1000 ms (unless the environment sets it), then what we set.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay(), 1000);
        }
        keep_freed_memory();
        assert_eq!(purge_delay(), -1);
    }
}
