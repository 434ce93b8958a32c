//! Arbitrary bytes (UTF-8 lossy) through the KQL lexer and parser: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let _ = auditbook::kql::parse(&src);
});
