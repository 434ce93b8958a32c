//! KQL string functions: term matching (`has`, `hasprefix`, `hassuffix`, each with a
//! case-sensitive `_cs` form), regex `trim`/`trim_start`/`trim_end`, `extract`, `extract_all`,
//! `split`, and base64 encoding/decoding of UTF-8 text.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, ListBuilder, StringBuilder};
use arrow::datatypes::DataType;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use datafusion::common::Result;
use datafusion::logical_expr::ScalarUDF;
use regex::Regex;

use super::common::{Args, Kind, KqlScalar, Memo, Params, regex, str_list_type};

const STR: Params = Params::Fixed(&[Kind::Str]);
const STR2: Params = Params::Fixed(&[Kind::Str, Kind::Str]);

/// Every UDF of this module.
pub fn functions() -> Vec<ScalarUDF> {
    vec![
        kql_has(),
        kql_has_cs(),
        kql_hasprefix(),
        kql_hasprefix_cs(),
        kql_hassuffix(),
        kql_hassuffix_cs(),
        kql_trim(),
        kql_trim_start(),
        kql_trim_end(),
        kql_extract(),
        kql_extract_all(),
        kql_split(),
        kql_countof(),
        kql_base64_encode(),
        kql_base64_decode(),
    ]
}

/// `kql_has(s, term) -> Boolean`: `term` is a whole term of `s` (case-insensitive).
pub fn kql_has() -> ScalarUDF {
    KqlScalar::udf("kql_has", STR2, DataType::Boolean, |a| {
        term_match(a, false, true, true)
    })
}

/// `kql_has_cs(s, term) -> Boolean`: `term` is a whole term of `s` (case-sensitive).
pub fn kql_has_cs() -> ScalarUDF {
    KqlScalar::udf("kql_has_cs", STR2, DataType::Boolean, |a| {
        term_match(a, true, true, true)
    })
}

/// `kql_hasprefix(s, term) -> Boolean`: some term of `s` starts with `term` (case-insensitive).
pub fn kql_hasprefix() -> ScalarUDF {
    KqlScalar::udf("kql_hasprefix", STR2, DataType::Boolean, |a| {
        term_match(a, false, true, false)
    })
}

/// `kql_hasprefix_cs(s, term) -> Boolean`: some term of `s` starts with `term` (case-sensitive).
pub fn kql_hasprefix_cs() -> ScalarUDF {
    KqlScalar::udf("kql_hasprefix_cs", STR2, DataType::Boolean, |a| {
        term_match(a, true, true, false)
    })
}

/// `kql_hassuffix(s, term) -> Boolean`: some term of `s` ends with `term` (case-insensitive).
pub fn kql_hassuffix() -> ScalarUDF {
    KqlScalar::udf("kql_hassuffix", STR2, DataType::Boolean, |a| {
        term_match(a, false, false, true)
    })
}

/// `kql_hassuffix_cs(s, term) -> Boolean`: some term of `s` ends with `term` (case-sensitive).
pub fn kql_hassuffix_cs() -> ScalarUDF {
    KqlScalar::udf("kql_hassuffix_cs", STR2, DataType::Boolean, |a| {
        term_match(a, true, false, true)
    })
}

/// Rows of `has`-family matching: `s` (null = `""`), `term` (null → null).
fn term_match(a: &Args, case_sensitive: bool, start: bool, end: bool) -> Result<ArrayRef> {
    let (s, t) = (a.str(0)?, a.str(1)?);
    let mut out = BooleanBuilder::with_capacity(a.rows());
    let mut lowered: Memo<'_, String> = Memo::new();
    for i in 0..a.rows() {
        let Some(term) = t.get(i) else {
            out.append_null();
            continue;
        };
        let text = s.get(i).unwrap_or("");
        let found = if case_sensitive {
            has_term(text, term, start, end)
        } else {
            let term = lowered.get(term, |t| Ok(t.to_lowercase()))?;
            has_term(&text.to_lowercase(), &term, start, end)
        };
        out.append_value(found);
    }
    Ok(Arc::new(out.finish()))
}

/// Term characters: Unicode alphanumerics (`_` and punctuation separate terms).
fn is_term_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Whether `term` occurs in `text` with a term boundary before it (`start`) and/or after it
/// (`end`). A boundary is only required next to an alphanumeric end of `term`, so `has "-x"` may
/// match after a letter. Overlapping occurrences are all considered.
pub(crate) fn has_term(text: &str, term: &str, start: bool, end: bool) -> bool {
    if term.is_empty() {
        return true;
    }
    let first = term.chars().next().is_some_and(is_term_char);
    let last = term.chars().next_back().is_some_and(is_term_char);
    let step = term.chars().next().map_or(1, char::len_utf8);
    let mut from = 0;
    while let Some(off) = text[from..].find(term) {
        let at = from + off;
        let before_ok =
            !(start && first && text[..at].chars().next_back().is_some_and(is_term_char));
        let after_ok = !(end
            && last
            && text[at + term.len()..]
                .chars()
                .next()
                .is_some_and(is_term_char));
        if before_ok && after_ok {
            return true;
        }
        from = at + step;
    }
    false
}

/// `kql_trim(regex, s) -> Utf8`: removes every leading and trailing match of `regex` from `s`.
pub fn kql_trim() -> ScalarUDF {
    KqlScalar::udf("kql_trim", STR2, DataType::Utf8, |a| {
        trim(a, "kql_trim", true, true)
    })
}

/// `kql_trim_start(regex, s) -> Utf8`: removes every leading match of `regex` from `s`.
pub fn kql_trim_start() -> ScalarUDF {
    KqlScalar::udf("kql_trim_start", STR2, DataType::Utf8, |a| {
        trim(a, "kql_trim_start", true, false)
    })
}

/// `kql_trim_end(regex, s) -> Utf8`: removes every trailing match of `regex` from `s`.
pub fn kql_trim_end() -> ScalarUDF {
    KqlScalar::udf("kql_trim_end", STR2, DataType::Utf8, |a| {
        trim(a, "kql_trim_end", false, true)
    })
}

/// Trimming with `^(?:re)+` and `(?:re)+$`; null `s` → `""`, null regex → `s` unchanged.
fn trim(a: &Args, name: &str, start: bool, end: bool) -> Result<ArrayRef> {
    let (re, s) = (a.str(0)?, a.str(1)?);
    let mut out = StringBuilder::with_capacity(a.rows(), 0);
    let mut memo: Memo<'_, (Arc<Regex>, Arc<Regex>)> = Memo::new();
    for i in 0..a.rows() {
        let text = s.get(i).unwrap_or("");
        let Some(pattern) = re.get(i) else {
            out.append_value(text);
            continue;
        };
        let pair = memo.get(pattern, |p| {
            Ok((
                regex(name, &format!("^(?:{p})+"))?,
                regex(name, &format!("(?:{p})+$"))?,
            ))
        })?;
        let mut t = text;
        if start && let Some(m) = pair.0.find(t) {
            t = &t[m.end()..];
        }
        if end && let Some(m) = pair.1.find(t) {
            t = &t[..m.start()];
        }
        out.append_value(t);
    }
    Ok(Arc::new(out.finish()))
}

/// `kql_extract(regex, group, s) -> Utf8`: capture `group` (0 = whole match) of the first match.
pub fn kql_extract() -> ScalarUDF {
    KqlScalar::udf(
        "kql_extract",
        Params::Fixed(&[Kind::Str, Kind::Int, Kind::Str]),
        DataType::Utf8,
        |a| {
            let (re, group, s) = (a.str(0)?, a.i64(1)?, a.str(2)?);
            let mut out = StringBuilder::with_capacity(a.rows(), 0);
            let mut memo: Memo<'_, Arc<Regex>> = Memo::new();
            for i in 0..a.rows() {
                let (Some(p), Some(g), Some(text)) = (re.get(i), group.get(i), s.get(i)) else {
                    out.append_null();
                    continue;
                };
                let r = memo.get(p, |p| regex("kql_extract", p))?;
                let m = usize::try_from(g)
                    .ok()
                    .and_then(|g| r.captures(text).and_then(|c| c.get(g)));
                out.append_option(m.map(|m| m.as_str()));
            }
            Ok(Arc::new(out.finish()))
        },
    )
}

/// `kql_extract_all(regex, s) -> List<Utf8>`: every match of `regex` in `s`, null if none.
///
/// Each item is the match's capture group when the regex has one, else the whole match.
/// With several capture groups only the first is returned (KQL would return one array per match;
/// the caller refuses that form). A group that did not take part in a match gives `""`.
pub fn kql_extract_all() -> ScalarUDF {
    KqlScalar::udf("kql_extract_all", STR2, str_list_type(), |a| {
        let (re, s) = (a.str(0)?, a.str(1)?);
        let mut out = ListBuilder::new(StringBuilder::new());
        let mut memo: Memo<'_, Arc<Regex>> = Memo::new();
        for i in 0..a.rows() {
            let (Some(p), Some(text)) = (re.get(i), s.get(i)) else {
                out.append_null();
                continue;
            };
            let r = memo.get(p, |p| regex("kql_extract_all", p))?;
            let group = usize::from(r.captures_len() > 1);
            let mut any = false;
            for c in r.captures_iter(text) {
                any = true;
                out.values()
                    .append_value(c.get(group).map_or("", |m| m.as_str()));
            }
            out.append(any);
        }
        Ok(Arc::new(out.finish()))
    })
}

/// `kql_countof(s, search) -> Int64`: occurrences of `search` in `s`, overlapping ones
/// included (KQL `countof(text, search)`: `countof("aaaa", "aa")` is 3); an empty `search` is 0.
pub fn kql_countof() -> ScalarUDF {
    KqlScalar::udf("kql_countof", STR2, DataType::Int64, |a| {
        let (s, needle) = (a.str(0)?, a.str(1)?);
        let mut out = arrow::array::Int64Builder::with_capacity(a.rows());
        for i in 0..a.rows() {
            let text = s.get(i).unwrap_or("");
            match needle.get(i) {
                Some(n) if !n.is_empty() => {
                    let count = text
                        .char_indices()
                        .filter(|(p, _)| text[*p..].starts_with(n))
                        .count();
                    out.append_value(count as i64);
                }
                Some(_) => out.append_value(0),
                None => out.append_null(),
            }
        }
        Ok(Arc::new(out.finish()))
    })
}

/// `kql_split(s, delimiter) -> List<Utf8>`: `s` split on every `delimiter`, empty pieces kept.
///
/// Null `s` → `[""]`; an empty or null delimiter → `[s]`.
pub fn kql_split() -> ScalarUDF {
    KqlScalar::udf("kql_split", STR2, str_list_type(), |a| {
        let (s, d) = (a.str(0)?, a.str(1)?);
        let mut out = ListBuilder::new(StringBuilder::new());
        for i in 0..a.rows() {
            let text = s.get(i).unwrap_or("");
            match d.get(i) {
                Some(delim) if !delim.is_empty() => {
                    for piece in text.split(delim) {
                        out.values().append_value(piece);
                    }
                }
                _ => out.values().append_value(text),
            }
            out.append(true);
        }
        Ok(Arc::new(out.finish()))
    })
}

/// `kql_base64_encode(s) -> Utf8`: the UTF-8 bytes of `s` in standard, padded base64.
pub fn kql_base64_encode() -> ScalarUDF {
    KqlScalar::udf("kql_base64_encode", STR, DataType::Utf8, |a| {
        let s = a.str(0)?;
        let mut out = StringBuilder::with_capacity(a.rows(), 0);
        for i in 0..a.rows() {
            out.append_option(s.get(i).map(|t| STANDARD.encode(t)));
        }
        Ok(Arc::new(out.finish()))
    })
}

/// `kql_base64_decode(s) -> Utf8`: standard base64 (padding optional) decoded as UTF-8, else null.
pub fn kql_base64_decode() -> ScalarUDF {
    KqlScalar::udf("kql_base64_decode", STR, DataType::Utf8, |a| {
        let s = a.str(0)?;
        let mut out = StringBuilder::with_capacity(a.rows(), 0);
        for i in 0..a.rows() {
            let decoded = s.get(i).and_then(|t| {
                STANDARD_PAD_INDIFFERENT
                    .decode(t.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
            });
            out.append_option(decoded);
        }
        Ok(Arc::new(out.finish()))
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn has_matches_whole_terms() {
        let q = |s: &str, t: &str, f: &str| bools(&format!("SELECT {f}({s}, {t})"))[0];
        assert_eq!(q("'abc def'", "'DEF'", "kql_has"), Some(true));
        assert_eq!(q("'North America'", "'america'", "kql_has"), Some(true));
        assert_eq!(
            q("'KustoExplorerQueryRun'", "'Explorer'", "kql_has"),
            Some(false)
        );
        assert_eq!(q("'abc def'", "'DEF'", "kql_has_cs"), Some(false));
        assert_eq!(q("'abc def'", "'def'", "kql_has_cs"), Some(true));
        // `_` separates terms, a term ends at punctuation.
        assert_eq!(q("'user_name'", "'name'", "kql_has"), Some(true));
        assert_eq!(q("'a-b.c'", "'b'", "kql_has"), Some(true));
        // A term with punctuation at its edges needs no boundary there.
        assert_eq!(q("'ab-cd'", "'-cd'", "kql_has"), Some(true));
        assert_eq!(q("'ab-cde'", "'-cd'", "kql_has"), Some(false));
        // Overlapping occurrences: the second one is a whole term.
        assert_eq!(q("'xa-a-a'", "'a-a'", "kql_has"), Some(true));
        // Unicode alphanumerics are term characters.
        assert_eq!(q("'Ärger über'", "'ÜBER'", "kql_has"), Some(true));
        assert_eq!(q("'éa'", "'a'", "kql_has"), Some(false));
        // Empty term, null text, null term.
        assert_eq!(q("'abc'", "''", "kql_has"), Some(true));
        assert_eq!(q("NULL", "''", "kql_has"), Some(true));
        assert_eq!(q("NULL", "'a'", "kql_has"), Some(false));
        assert_eq!(q("''", "'a'", "kql_has"), Some(false));
        assert_eq!(q("'abc'", "NULL", "kql_has"), None);
    }

    #[test]
    fn hasprefix_and_hassuffix() {
        let q = |s: &str, t: &str, f: &str| bools(&format!("SELECT {f}('{s}', '{t}')"))[0];
        assert_eq!(q("North America", "amer", "kql_hasprefix"), Some(true));
        assert_eq!(q("North America", "meri", "kql_hasprefix"), Some(false));
        assert_eq!(q("North America", "Amer", "kql_hasprefix_cs"), Some(true));
        assert_eq!(q("North America", "amer", "kql_hasprefix_cs"), Some(false));
        assert_eq!(q("North America", "RICA", "kql_hassuffix"), Some(true));
        assert_eq!(q("North America", "meri", "kql_hassuffix"), Some(false));
        assert_eq!(q("North America", "RICA", "kql_hassuffix_cs"), Some(false));
        assert_eq!(q("North America", "rth", "kql_hassuffix_cs"), Some(true));
    }

    #[test]
    fn has_over_columns_and_views() {
        let v = bools(
            "SELECT kql_has(s, t) FROM (VALUES ('a b', 'B'), ('ab', 'b'), (NULL, 'x'), ('x', NULL), \
             ('Sign-in', 'SIGN')) AS v(s, t)",
        );
        assert_eq!(v, [Some(true), Some(false), Some(false), None, Some(true)]);
        // Utf8View and LargeUtf8 inputs are accepted.
        let v = bools(
            "SELECT kql_has(arrow_cast(s, 'Utf8View'), arrow_cast('b', 'LargeUtf8')) \
             FROM (VALUES ('a b'), ('ab')) AS v(s)",
        );
        assert_eq!(v, [Some(true), Some(false)]);
        let v = bools(
            "SELECT kql_has_cs(arrow_cast(s, 'Dictionary(Int32, Utf8)'), 'b') \
             FROM (VALUES ('a b'), ('a B')) AS v(s)",
        );
        assert_eq!(v, [Some(true), Some(false)]);
        let e = error("SELECT kql_has(1, 'a')");
        assert!(e.contains("kql_has") && e.contains("string"), "{e}");
    }

    #[test]
    fn trim_removes_repeated_matches() {
        assert_eq!(str1(r#"SELECT kql_trim('"', '""abc"')"#), s("abc"));
        assert_eq!(str1(r"SELECT kql_trim('[^\w]+', '--ab c!!')"), s("ab c"));
        assert_eq!(str1("SELECT kql_trim('ab', 'ababxab')"), s("x"));
        assert_eq!(str1("SELECT kql_trim_start('ab', 'ababxab')"), s("xab"));
        assert_eq!(str1("SELECT kql_trim_end('ab', 'ababxab')"), s("ababx"));
        assert_eq!(str1("SELECT kql_trim(' ', NULL)"), s(""));
        assert_eq!(str1("SELECT kql_trim(' ', '')"), s(""));
        assert_eq!(str1("SELECT kql_trim(NULL, ' a ')"), s(" a "));
        let v = strs(
            "SELECT kql_trim(p, s) FROM (VALUES ('x', 'xxaxx'), ('y', 'yby'), ('x', NULL)) AS v(p, s)",
        );
        assert_eq!(v, [s("a"), s("b"), s("")]);
        let e = error("SELECT kql_trim('(', 'a')");
        assert!(e.contains("kql_trim") && e.contains("invalid regex"), "{e}");
    }

    #[test]
    fn extract_groups() {
        let q =
            |re: &str, g: i64, s: &str| str1(&format!("SELECT kql_extract('{re}', {g}, '{s}')"));
        assert_eq!(q(r"x=(\d+)", 1, "a x=42 x=7"), s("42"));
        assert_eq!(q(r"x=(\d+)", 0, "a x=42"), s("x=42"));
        assert_eq!(q(r"x=(\d+)", 2, "a x=42"), None);
        assert_eq!(q(r"x=(\d+)", -1, "a x=42"), None);
        assert_eq!(q(r"x=(\d+)", 1, "nothing"), None);
        assert_eq!(q(r"x=(\d+)", 1, ""), None);
        assert_eq!(str1(r"SELECT kql_extract('a', 0, NULL)"), None);
        let v = strs(
            r"SELECT kql_extract('(\w+)@', 1, s) FROM (VALUES ('bob@x'), ('none'), ('al@y')) AS v(s)",
        );
        assert_eq!(v, [s("bob"), None, s("al")]);
    }

    #[test]
    fn extract_all_matches() {
        assert_eq!(
            lists(r"SELECT kql_extract_all('\d+', 'a1 b22 c333')"),
            [list(&["1", "22", "333"])]
        );
        assert_eq!(
            lists(r"SELECT kql_extract_all('(\w)=\d', 'a=1 b=2')"),
            [list(&["a", "b"])]
        );
        assert_eq!(
            lists(r"SELECT kql_extract_all('(\w)=(\d)', 'a=1 b=2')"),
            [list(&["a", "b"])]
        );
        assert_eq!(lists(r"SELECT kql_extract_all('\d', 'abc')"), [None]);
        assert_eq!(lists(r"SELECT kql_extract_all('\d', NULL)"), [None]);
        assert_eq!(
            lists(r"SELECT kql_extract_all(p, 'a1b2') FROM (VALUES ('\d'), ('[a-z]')) AS v(p)"),
            [list(&["1", "2"]), list(&["a", "b"])]
        );
    }

    #[test]
    fn split_keeps_empty_pieces() {
        assert_eq!(
            lists("SELECT kql_split('a,b,', ',')"),
            [list(&["a", "b", ""])]
        );
        assert_eq!(lists("SELECT kql_split('', ',')"), [list(&[""])]);
        assert_eq!(int1("SELECT kql_countof('aaaa', 'aa')"), Some(3));
        assert_eq!(int1("SELECT kql_countof('ababa', 'aba')"), Some(2));
        assert_eq!(int1("SELECT kql_countof('abc', '')"), Some(0));
        assert_eq!(lists("SELECT kql_split('a,b', '')"), [list(&["a,b"])]);
        assert_eq!(lists("SELECT kql_split(NULL, ',')"), [list(&[""])]);
        assert_eq!(lists("SELECT kql_split('a::b', '::')"), [list(&["a", "b"])]);
        assert_eq!(
            lists("SELECT kql_split(s, '/') FROM (VALUES ('a/b'), ('c')) AS v(s)"),
            [list(&["a", "b"]), list(&["c"])]
        );
        assert_eq!(
            field("SELECT kql_split('a', ',')").0,
            super::str_list_type()
        );
    }

    #[test]
    fn base64_round_trip() {
        assert_eq!(str1("SELECT kql_base64_encode('Kusto')"), s("S3VzdG8="));
        assert_eq!(str1("SELECT kql_base64_encode('')"), s(""));
        assert_eq!(str1("SELECT kql_base64_encode(NULL)"), None);
        assert_eq!(str1("SELECT kql_base64_decode('S3VzdG8=')"), s("Kusto"));
        assert_eq!(str1("SELECT kql_base64_decode('S3VzdG8')"), s("Kusto"));
        assert_eq!(str1("SELECT kql_base64_decode('***')"), None);
        // Valid base64 of bytes that are not UTF-8.
        assert_eq!(str1("SELECT kql_base64_decode('/w==')"), None);
        let v = strs(
            "SELECT kql_base64_decode(kql_base64_encode(s)) FROM (VALUES ('é'), (''), (NULL)) AS v(s)",
        );
        assert_eq!(v, [s("é"), s(""), None]);
    }
}
