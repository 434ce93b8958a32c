//! The ingest's fast path for a Graph `directoryAudit` record as Entra writes it: one pass of a
//! small JSON scanner over the line's bytes that fills an [`AuditRecord`] directly, borrowing
//! every string without escapes from the line (no JSON tree, no intermediate structs).
//!
//! It accepts exactly the member names Graph writes, strings or `null` where text is expected,
//! objects and arrays where Graph has them. Anything else (other names or casing, numbers,
//! duplicate members, a missing id or timestamp, invalid JSON) returns `None`, and the caller
//! takes the general path ([`super::graph::record_from_graph`]), which converts or explains; for
//! every record this accepts, the result equals the general path's (tested in `graph.rs`).
//!
//! It replaced a `serde` derive over borrowed structs: the same work in about half the cycles
//! (`perf`: JSON was 29 % of an ingest's user time).

use std::borrow::Cow;

use super::graph::add_detail;
use crate::record::{
    AppIdentity, AuditRecord, InitiatedBy, KeyValue, ModifiedProperty, TargetResource, UserIdentity,
};
use crate::time::parse_timestamp;

/// A text member's value (`None` for `null`).
type Text<'a> = Option<Cow<'a, str>>;

/// Reads one Graph record from `text` (one line), or `None` to leave it to the general path.
pub fn fast_record(text: &[u8]) -> Option<AuditRecord<Cow<'_, str>>> {
    // One UTF-8 check for the whole line: strings are then sliced at ASCII quotes only.
    let s = std::str::from_utf8(text).ok()?;
    let mut p = Scan {
        s,
        b: s.as_bytes(),
        i: 0,
    };
    let mut r = AuditRecord::<Cow<str>>::default();
    let (mut id, mut activity, mut agent): (Text, Text, Text) = (None, None, None);
    let mut seen = Seen::default();
    p.object(|key, p| {
        match key {
            b"id" => id = p.once(&mut seen, 0)?,
            b"category" => r.category = p.once(&mut seen, 1)?.unwrap_or_default(),
            b"correlationId" => r.correlation_id = p.once(&mut seen, 2)?.unwrap_or_default(),
            b"result" => r.result = p.once(&mut seen, 3)?.unwrap_or_default(),
            b"resultReason" => r.result_reason = p.once(&mut seen, 4)?.unwrap_or_default(),
            b"activityDisplayName" => {
                r.activity_display_name = p.once(&mut seen, 5)?.unwrap_or_default()
            }
            b"activityDateTime" => activity = p.once(&mut seen, 6)?,
            b"loggedByService" => r.logged_by_service = p.once(&mut seen, 7)?.unwrap_or_default(),
            b"operationType" => r.aad_operation_type = p.once(&mut seen, 8)?.unwrap_or_default(),
            b"initiatedBy" => {
                seen.first(9)?;
                r.initiated_by = p.initiated_by()?;
            }
            b"targetResources" => {
                seen.first(10)?;
                r.target_resources = p.array(Scan::target)?;
            }
            b"additionalDetails" => {
                seen.first(11)?;
                r.additional_details = p.array(Scan::detail)?;
            }
            b"userAgent" => agent = p.once(&mut seen, 12)?,
            _ => return None,
        }
        Some(())
    })?;
    if !p.at_end() {
        return None;
    }
    let id = id?;
    if id.trim().is_empty() {
        return None;
    }
    let time = parse_timestamp(activity.as_deref()?).ok()?;
    r.id = id;
    r.time_generated = time;
    r.activity_date_time = time;
    if let Some(agent) = agent.filter(|a| !a.is_empty()) {
        add_detail(&mut r, "User-Agent", agent);
    }
    Some(r)
}

/// The members of one object read so far (Graph never repeats one; a repeat declines).
#[derive(Default)]
struct Seen(u32);

impl Seen {
    /// `Some(())` the first time member `bit` is read.
    fn first(&mut self, bit: u32) -> Option<()> {
        let mask = 1 << bit;
        let new = self.0 & mask == 0;
        self.0 |= mask;
        new.then_some(())
    }
}

/// A position in the line.
struct Scan<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    /// The next byte that is not JSON whitespace (not consumed).
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Only whitespace left.
    fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// `null`, consumed: `Some(true)`; another value: `Some(false)`, not consumed.
    fn null(&mut self) -> Option<bool> {
        if self.peek()? != b'n' {
            return Some(false);
        }
        (self.b.get(self.i..self.i + 4)? == b"null").then(|| {
            self.i += 4;
            true
        })
    }

    /// A string or `null`, as the first value of member `bit` of its object.
    fn once(&mut self, seen: &mut Seen, bit: u32) -> Option<Text<'a>> {
        seen.first(bit)?;
        if self.null()? {
            return Some(None);
        }
        Some(Some(self.string()?))
    }

    /// A member name: the bytes between the quotes (a name with escapes declines).
    fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let n = memchr::memchr2(b'"', b'\\', &self.b[start..])?;
        if self.b[start + n] != b'"' {
            return None;
        }
        self.i = start + n + 1;
        Some(&self.b[start..start + n])
    }

    /// A JSON string, borrowed from the line unless it holds escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let n = self.plain_run()?;
        if self.b[self.i] == b'"' {
            self.i += 1;
            return Some(Cow::Borrowed(&self.s[start..start + n]));
        }
        let mut out = String::with_capacity(n + 16);
        out.push_str(&self.s[start..start + n]);
        loop {
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Some(Cow::Owned(out));
                }
                _ => {
                    self.i += 1;
                    self.escape(&mut out)?;
                }
            }
            let from = self.i;
            let n = self.plain_run()?;
            out.push_str(&self.s[from..from + n]);
        }
    }

    /// Skips to the next quote or backslash (which must come) and returns the length skipped;
    /// a control character in between (invalid in JSON strings) declines.
    fn plain_run(&mut self) -> Option<usize> {
        let n = memchr::memchr2(b'"', b'\\', &self.b[self.i..])?;
        if self.b[self.i..self.i + n].iter().any(|&c| c < 0x20) {
            return None;
        }
        self.i += n;
        Some(n)
    }

    /// One escape after its backslash, appended to `out`.
    fn escape(&mut self, out: &mut String) -> Option<()> {
        let e = *self.b.get(self.i)?;
        self.i += 1;
        let c = match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                match hi {
                    0xD800..=0xDBFF => {
                        if self.b.get(self.i..self.i + 2)? != b"\\u" {
                            return None;
                        }
                        self.i += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return None;
                        }
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(hi)?,
                }
            }
            _ => return None,
        };
        out.push(c);
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &d in digits {
            v = v * 16 + (d as char).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    /// An object, each member handed to `member` (which reads its value).
    fn object(&mut self, mut member: impl FnMut(&'a [u8], &mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            self.eat(b':')?;
            member(key, self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An object read into a `T`: `member` gets each member (and the members seen so far, for
    /// [`Scan::once`]) and reads its value into the `T`.
    fn fields<T: Default>(
        &mut self,
        mut member: impl FnMut(&'a [u8], &mut Self, &mut T, &mut Seen) -> Option<()>,
    ) -> Option<T> {
        let (mut value, mut seen) = (T::default(), Seen::default());
        self.object(|key, p| member(key, p, &mut value, &mut seen))?;
        Some(value)
    }

    /// [`Scan::fields`], or `null` (`Some(None)`).
    fn nullable_fields<T: Default>(
        &mut self,
        member: impl FnMut(&'a [u8], &mut Self, &mut T, &mut Seen) -> Option<()>,
    ) -> Option<Option<T>> {
        if self.null()? {
            return Some(None);
        }
        self.fields(member).map(Some)
    }

    /// An array of `element`s or `null` (`Some(None)`).
    fn array<T>(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Option<Vec<T>>> {
        if self.null()? {
            return Some(None);
        }
        self.eat(b'[')?;
        let mut items = Vec::new();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(Some(items));
        }
        loop {
            items.push(element(self)?);
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(Some(items));
                }
                _ => return None,
            }
        }
    }

    /// `initiatedBy`: `{user, app}`; both missing or null is no initiator.
    fn initiated_by(&mut self) -> Option<Option<InitiatedBy<Cow<'a, str>>>> {
        let by = self.nullable_fields(|key, p, by: &mut InitiatedBy<Cow<'a, str>>, seen| {
            match key {
                b"user" => {
                    seen.first(0)?;
                    by.user = p.user()?;
                }
                b"app" => {
                    seen.first(1)?;
                    by.app = p.app()?;
                }
                _ => return None,
            }
            Some(())
        })?;
        Some(by.filter(|b| b.user.is_some() || b.app.is_some()))
    }

    fn user(&mut self) -> Option<Option<UserIdentity<Cow<'a, str>>>> {
        self.nullable_fields(|key, p, u: &mut UserIdentity<Cow<'a, str>>, seen| {
            match key {
                b"id" => u.id = p.once(seen, 0)?,
                b"displayName" => u.display_name = p.once(seen, 1)?,
                b"userPrincipalName" => u.user_principal_name = p.once(seen, 2)?,
                b"ipAddress" => u.ip_address = p.once(seen, 3)?,
                b"userType" => u.user_type = p.once(seen, 4)?,
                b"homeTenantId" => u.home_tenant_id = p.once(seen, 5)?,
                b"homeTenantName" => u.home_tenant_name = p.once(seen, 6)?,
                _ => return None,
            }
            Some(())
        })
    }

    fn app(&mut self) -> Option<Option<AppIdentity<Cow<'a, str>>>> {
        self.nullable_fields(|key, p, a: &mut AppIdentity<Cow<'a, str>>, seen| {
            match key {
                b"appId" => a.app_id = p.once(seen, 0)?,
                b"displayName" => a.display_name = p.once(seen, 1)?,
                b"servicePrincipalId" => a.service_principal_id = p.once(seen, 2)?,
                b"servicePrincipalName" => a.service_principal_name = p.once(seen, 3)?,
                _ => return None,
            }
            Some(())
        })
    }

    /// One element of `targetResources` (an object: `null` declines, as Graph never writes it).
    fn target(&mut self) -> Option<TargetResource<Cow<'a, str>>> {
        self.fields(|key, p, t: &mut TargetResource<Cow<'a, str>>, seen| {
            match key {
                b"id" => t.id = p.once(seen, 0)?,
                b"displayName" => t.display_name = p.once(seen, 1)?,
                b"type" => t.type_ = p.once(seen, 2)?,
                b"userPrincipalName" => t.user_principal_name = p.once(seen, 3)?,
                b"groupType" => t.group_type = p.once(seen, 4)?,
                b"modifiedProperties" => {
                    seen.first(5)?;
                    t.modified_properties = p.array(Scan::property)?;
                }
                _ => return None,
            }
            Some(())
        })
    }

    fn property(&mut self) -> Option<ModifiedProperty<Cow<'a, str>>> {
        self.fields(|key, p, m: &mut ModifiedProperty<Cow<'a, str>>, seen| {
            match key {
                b"displayName" => m.display_name = p.once(seen, 0)?,
                b"oldValue" => m.old_value = p.once(seen, 1)?,
                b"newValue" => m.new_value = p.once(seen, 2)?,
                _ => return None,
            }
            Some(())
        })
    }

    fn detail(&mut self) -> Option<KeyValue<Cow<'a, str>>> {
        self.fields(|key, p, d: &mut KeyValue<Cow<'a, str>>, seen| {
            match key {
                b"key" => d.key = p.once(seen, 0)?,
                b"value" => d.value = p.once(seen, 1)?,
                _ => return None,
            }
            Some(())
        })
    }
}
