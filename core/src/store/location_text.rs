//! The text of a PostgreSQL store location, in either of libpq's forms:
//! the URL (`postgres://user:password@host:port/db?sslmode=…`) and the
//! keyword/value connection string (`host=… port=… user=… dbname=…`,
//! values optionally single-quoted with `\` escapes).
//!
//! - [`keyword_pairs`] reads a connection string; only the parameters the
//!   store's client understands are accepted (a misspelt one is an error,
//!   never a silently different connection).
//! - [`client_url`] turns either form into the URL the client and the TLS
//!   settings read.
//! - [`redact_password`] hides the password of either form (URL user info,
//!   `password=` in a URL query or a connection string); every message that
//!   shows a location goes through it.

/// The connection parameters a keyword/value connection string may hold
/// (libpq's names; `sslcert`, `sslkey`, … are read so that the TLS layer
/// can refuse them with its own message).
pub(crate) const KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "options",
    "application_name",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
    "sslmode",
    "sslnegotiation",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
];

/// True when `text` starts like a keyword/value connection string: a
/// word of letters, digits and `_` (not starting with a digit) followed
/// by `=` (spaces allowed around it).
pub(crate) fn is_keyword_form(text: &str) -> bool {
    let t = text.trim_start();
    let word = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(t.len());
    let starts_with_letter = t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    starts_with_letter && word > 0 && t[word..].trim_start().starts_with('=')
}

/// The `scheme` of `text` when it starts with `scheme:` (a letter, then
/// letters, digits, `+`, `-` or `.`), as URLs do; with the rest after `:`.
pub(crate) fn url_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then_some((scheme, rest))
}

/// Reads one value at the start of `s` (after `=`): `'quoted'` or a run
/// of non-space characters, `\` escaping the next character in both.
/// Returns the value and the rest, or `None` for an unterminated quote.
fn value(s: &str) -> Option<(String, &str)> {
    let quoted = s.starts_with('\'');
    let body = if quoted { &s[1..] } else { s };
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.extend(chars.next().map(|(_, c)| c)),
            '\'' if quoted => return Some((out, &body[i + 1..])),
            c if c.is_whitespace() && !quoted => return Some((out, &body[i..])),
            c => out.push(c),
        }
    }
    (!quoted).then_some((out, ""))
}

/// The `(keyword, value)` pairs of a keyword/value connection string, or
/// what is wrong with it. Messages never repeat a value (nor a word that
/// may be the rest of an unquoted password).
pub(crate) fn keyword_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let n = pairs.len() + 1;
        let after_password = pairs.last().is_some_and(|(k, _)| k == "password");
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(rest.len());
        let keyword = &rest[..end];
        let named = if after_password {
            format!("parameter {n}")
        } else {
            format!("parameter {n} (`{keyword}`)")
        };
        let Some(after_eq) = rest[end..].trim_start().strip_prefix('=') else {
            return Err(format!(
                "{named} of the connection string is not `keyword=value` (quote a value \
                 holding spaces: password='a b')"
            ));
        };
        if !KEYWORDS.contains(&keyword) {
            return Err(format!(
                "{named} of the connection string is not a PostgreSQL connection parameter \
                 (accepted: {})",
                KEYWORDS.join(", ")
            ));
        }
        let (v, tail) = value(after_eq.trim_start())
            .ok_or_else(|| format!("the value of `{keyword}` has no closing quote"))?;
        pairs.push((keyword.to_string(), v));
        rest = tail.trim_start();
    }
    if pairs.is_empty() {
        return Err("the connection string is empty".into());
    }
    Ok(pairs)
}

/// Percent-encodes everything but URL-unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL the client connects with: a `postgres://` URL as given, or a
/// keyword/value connection string as the equivalent
/// `postgres://?keyword=value&…` (values percent-encoded).
pub(crate) fn client_url(text: &str) -> Result<String, String> {
    if !is_keyword_form(text) {
        return Ok(text.to_string());
    }
    let params: Vec<String> = keyword_pairs(text)?
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    Ok(format!("postgres://?{}", params.join("&")))
}

/// `text` with any password hidden as `***`: the password of a URL's user
/// info (`scheme:[//]user:secret@host`, however many slashes), a
/// `password=` query parameter, or a `password=` pair of a connection
/// string (quoted or not).
pub fn redact_password(text: &str) -> String {
    match url_scheme(text) {
        Some((scheme, rest)) => {
            let slashes = rest.len() - rest.trim_start_matches('/').len();
            let (lead, rest) = rest.split_at(slashes);
            format!("{scheme}:{lead}{}", redact_url_rest(rest))
        }
        None => redact_keyword_passwords(text),
    }
}

/// `user:secret@host/db?…` → `user:***@host/db?…` (query passwords too).
fn redact_url_rest(rest: &str) -> String {
    // The user info ends at the last `@` before the query; a password may
    // hold `/` or `@` (or even `?`: then any `@` counts, erring on the side
    // of hiding too much).
    let before_query = rest.find('?').unwrap_or(rest.len());
    let at = rest
        .get(..before_query)
        .and_then(|s| s.rfind('@'))
        .or_else(|| rest.rfind('@'));
    let (userinfo, tail) = match at {
        Some(i) => rest.split_at(i),
        None => ("", rest),
    };
    let user = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => userinfo.to_string(),
    };
    format!("{user}{}", redact_query_password(tail))
}

/// `…?password=x&…` → `…?password=***&…`.
fn redact_query_password(tail: &str) -> String {
    let Some((head, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if is_password_key(k.trim()) => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{head}?{}", params.join("&"))
}

/// `… password=secret …` / `password = 'a b'` → `password=***` (and the
/// same for `sslpassword`) in a keyword/value connection string, or in any
/// text shaped like one; everything else is kept as written.
fn redact_keyword_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let ws = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..ws]);
        rest = &rest[ws..];
        if rest.is_empty() {
            return out;
        }
        let key_end = rest
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        let Some(after_eq) = rest[key_end..].trim_start().strip_prefix('=') else {
            out.push_str(key);
            rest = &rest[key_end..];
            continue;
        };
        let Some((_, tail)) = value(after_eq.trim_start()) else {
            // An unterminated quote: everything after it may be secret.
            out.push_str(key);
            out.push_str("=***");
            return out;
        };
        if is_password_key(key) {
            out.push_str(key);
            out.push_str("=***");
        } else {
            out.push_str(&rest[..rest.len() - tail.len()]);
        }
        rest = tail;
    }
}

/// `password` or `sslpassword`, in any case.
fn is_password_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("sslpassword")
}

#[cfg(test)]
#[path = "location_text_tests.rs"]
mod tests;
