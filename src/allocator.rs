//! The process's memory allocator: mimalloc, told to keep the memory it frees.
//!
//! By default mimalloc returns freed memory to the kernel a second later, and the kernel zeroes
//! every page again when it is touched next. An ingest frees and refills its column builders
//! every 2,048 records, and a query its Parquet pages every batch, so that zeroing was 8 % of the
//! cycles in `perf` (`clear_page_erms`). Keeping freed memory costs nothing in peak memory (the
//! peak is reached anyway) and measured, on the 1M-event benchmark set, 4.72 → 4.29 s of ingest
//! wall time and 1.3 → 0.7 s of system time (`BENCHMARKS.md`).
//!
//! The C code linked in (zstd, through the Parquet crate) allocates with glibc's `malloc`, not
//! mimalloc. The Parquet reader creates a zstd decompression context (about 160 KiB) for every
//! column chunk it reads, and glibc handed each one fresh memory: its heap was trimmed back to
//! the kernel on every free, or the block was `mmap`ed and unmapped. That was 2,200 page faults
//! per App role assignment activity query (30 days, 1M events); glibc is told to keep its freed
//! memory too ([`keep_freed_memory`]).

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

/// Freed memory stays with the process instead of going back to the kernel: mimalloc never
/// purges (`-1`), and glibc's `malloc` (used by zstd) neither trims its heap nor maps blocks of
/// its own. Called first thing in `main`; harmless when the global allocator is another one.
pub fn keep_freed_memory() {
    // SAFETY: plain setters of mimalloc's option table, callable at any time from any thread.
    unsafe { mi_option_set(PURGE_DELAY, -1) }
    glibc::keep_freed_memory();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::os::raw::c_int;

    /// `mallopt` parameters, from glibc's `malloc.h`.
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;
    /// The largest mmap threshold glibc accepts on 64-bit (`DEFAULT_MMAP_THRESHOLD_MAX`).
    const MMAP_THRESHOLD_MAX: c_int = 32 << 20;

    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }

    /// The heap is never trimmed, and blocks up to 32 MiB come from the heap (reused) rather
    /// than from a mapping of their own (zeroed by the kernel each time). Setting either also
    /// stops glibc from adjusting them itself.
    pub fn keep_freed_memory() {
        // SAFETY: `mallopt` only sets glibc's allocator parameters; valid values, any thread.
        unsafe {
            mallopt(M_TRIM_THRESHOLD, c_int::MAX);
            mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod glibc {
    /// Not glibc: nothing to set.
    pub fn keep_freed_memory() {}
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
