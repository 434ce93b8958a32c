//! KQL front end: the stage chain is lexer → parser → (binder → SQL generator, later).
//!
//! - [`lexer::lex`]: source → tokens with byte spans (contextual keywords, all literal forms,
//!   workbook placeholders `{Name:format}`).
//! - [`parser::parse`]: tokens → [`ast::Query`] (every node spanned), several diagnostics per run
//!   with recovery at `|` and `;`, a nesting limit, never a panic.
//!
//! Diagnostics use the crate-wide [`crate::diagnostic::Diagnostic`]. Codes defined here:
//!
//! | code | stage | meaning |
//! |---|---|---|
//! | KQL0001 | lexer | unexpected character |
//! | KQL0002 | lexer | unterminated string literal |
//! | KQL0003 | lexer | invalid escape sequence |
//! | KQL0004 | lexer | invalid number (bad suffix, bad hex) |
//! | KQL0007 | lexer | numeric or timespan literal out of range |
//! | KQL0101 | parser | unknown query operator (with "did you mean") |
//! | KQL0102 | parser | syntax error: expected X, found Y |
//! | KQL0103 | parser | expected an expression |
//! | KQL0104 | parser | KQL operator not supported by auditbook |
//! | KQL0105 | parser | nesting too deep |
//! | KQL0106 | parser | invalid operator parameter (unknown name, bad `kind=`) |
//! | KQL0107 | parser | invalid `datetime`/`timespan`/`guid` literal |
//! | KQL0108 | parser | unknown type name |
//! | KQL0109 | parser | no tabular expression statement (empty query) |
//! | KQL0110 | parser | unexpected token after an operator |
//! | KQL0112 | parser | unsupported statement (`set`, `declare`, ...) |
//! | KQL0113 | parser | invalid `dynamic(...)` literal |
//! | KQL0150 | parser (warning) | legacy `mvexpand` without `limit`: at most 128 values per row |

pub mod ast;
pub mod lexer;
pub mod parser;
pub mod udf;

pub use lexer::lex;
pub use parser::parse;
