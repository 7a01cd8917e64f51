//! A strict, streaming msgpack tokenizer over borrowed bytes.
//!
//! The codec reads a `DynamicValue` in one pass, driven by the schema type,
//! straight into [`crate::framework::Value`]: no intermediate tree is built
//! and strings are borrowed until the codec keeps them. This reader hands
//! out one [`Token`] at a time (a container's header carries its length; its
//! items follow as further tokens) and can [`skip`] a whole value (an
//! attribute the schema does not know).
//!
//! Unlike `rmpv::decode::read_value`, it rejects the reserved marker `0xc1`
//! (on the plugin channel that byte can only be garbage), bounds the nesting
//! depth of what it skips, and never preallocates from an untrusted length.

/// Deepest nesting [`skip`] accepts (Keyshift schemas nest a few levels;
/// the codec's own recursion is bounded by the schema type).
const MAX_DEPTH: usize = 128;

/// One msgpack item: a scalar, or the header of an array or a map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Token<'a> {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A signed integer (every negative, and positive ones up to `i64::MAX`).
    Int(i64),
    /// A positive integer above `i64::MAX`.
    UInt(u64),
    /// A 32-bit float.
    F32(f32),
    /// A 64-bit float.
    F64(f64),
    /// A string's raw bytes (UTF-8 is checked by whoever keeps it).
    Str(&'a [u8]),
    /// Binary data.
    Bin(&'a [u8]),
    /// An array of this many items (they follow).
    Array(usize),
    /// A map of this many key/value pairs (they follow, key first).
    Map(usize),
    /// An extension value: its type and payload.
    Ext(i8, &'a [u8]),
}

impl Token<'_> {
    /// What the item is, for error messages (never its content).
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Token::Nil => "nil",
            Token::Bool(_) => "a bool",
            Token::Int(_) | Token::UInt(_) | Token::F32(_) | Token::F64(_) => "a number",
            Token::Str(_) => "a string",
            Token::Bin(_) => "binary data",
            Token::Array(_) => "an array",
            Token::Map(_) => "a map",
            Token::Ext(..) => "an extension",
        }
    }
}

/// Reads the next token from the front of `rd`, advancing it.
pub(super) fn next<'a>(rd: &mut &'a [u8]) -> Result<Token<'a>, String> {
    let marker = take(rd, 1)?[0];
    Ok(match marker {
        0x00..=0x7f => Token::Int(i64::from(marker)),
        0x80..=0x8f => Token::Map(usize::from(marker & 0x0f)),
        0x90..=0x9f => Token::Array(usize::from(marker & 0x0f)),
        0xa0..=0xbf => Token::Str(take(rd, usize::from(marker & 0x1f))?),
        0xc0 => Token::Nil,
        0xc1 => return Err("reserved marker 0xc1".to_string()),
        0xc2 => Token::Bool(false),
        0xc3 => Token::Bool(true),
        0xc4..=0xc6 => {
            let n = len(rd, 1 << (marker - 0xc4))?;
            Token::Bin(take(rd, n)?)
        }
        0xc7..=0xc9 => {
            let n = len(rd, 1 << (marker - 0xc7))?;
            ext(rd, n)?
        }
        0xca => Token::F32(f32::from_bits(be(rd, 4)? as u32)),
        0xcb => Token::F64(f64::from_bits(be(rd, 8)?)),
        0xcc..=0xcf => {
            let u = be(rd, 1 << (marker - 0xcc))?;
            i64::try_from(u).map_or(Token::UInt(u), Token::Int)
        }
        0xd0 => Token::Int(i64::from(be(rd, 1)? as u8 as i8)),
        0xd1 => Token::Int(i64::from(be(rd, 2)? as u16 as i16)),
        0xd2 => Token::Int(i64::from(be(rd, 4)? as u32 as i32)),
        0xd3 => Token::Int(be(rd, 8)? as i64),
        0xd4..=0xd8 => ext(rd, 1 << (marker - 0xd4))?,
        0xd9..=0xdb => {
            let n = len(rd, 1 << (marker - 0xd9))?;
            Token::Str(take(rd, n)?)
        }
        0xdc | 0xdd => Token::Array(len(rd, if marker == 0xdc { 2 } else { 4 })?),
        0xde | 0xdf => Token::Map(len(rd, if marker == 0xde { 2 } else { 4 })?),
        0xe0..=0xff => Token::Int(i64::from(marker as i8)),
    })
}

/// Skips one whole value (a scalar, or a container with everything in it).
pub(super) fn skip(rd: &mut &[u8]) -> Result<(), String> {
    skip_nested(rd, MAX_DEPTH)
}

fn skip_nested(rd: &mut &[u8], depth: usize) -> Result<(), String> {
    if depth == 0 {
        return Err("nesting too deep".to_string());
    }
    let items = match next(rd)? {
        Token::Array(n) => n,
        Token::Map(n) => n.checked_mul(2).ok_or("length too large")?,
        _ => return Ok(()),
    };
    for _ in 0..items {
        skip_nested(rd, depth - 1)?;
    }
    Ok(())
}

fn take<'a>(rd: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if rd.len() < n {
        return Err(format!(
            "truncated input: needed {n} more bytes, {} left",
            rd.len()
        ));
    }
    let (head, tail) = rd.split_at(n);
    *rd = tail;
    Ok(head)
}

fn be(rd: &mut &[u8], n: usize) -> Result<u64, String> {
    Ok(take(rd, n)?
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn len(rd: &mut &[u8], n: usize) -> Result<usize, String> {
    usize::try_from(be(rd, n)?).map_err(|_| "length too large".to_string())
}

fn ext<'a>(rd: &mut &'a [u8], n: usize) -> Result<Token<'a>, String> {
    let ty = take(rd, 1)?[0] as i8;
    Ok(Token::Ext(ty, take(rd, n)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmpv::Value as M;

    /// Rebuilds an rmpv tree from tokens (tests only), to compare with rmpv.
    fn tree(rd: &mut &[u8]) -> Result<M, String> {
        Ok(match next(rd)? {
            Token::Nil => M::Nil,
            Token::Bool(b) => M::Boolean(b),
            Token::Int(i) => M::from(i),
            Token::UInt(u) => M::from(u),
            Token::F32(f) => M::F32(f),
            Token::F64(f) => M::F64(f),
            Token::Str(s) => M::from(std::str::from_utf8(s).map_err(|e| e.to_string())?),
            Token::Bin(b) => M::Binary(b.to_vec()),
            Token::Ext(t, p) => M::Ext(t, p.to_vec()),
            Token::Array(n) => M::Array((0..n).map(|_| tree(rd)).collect::<Result<_, _>>()?),
            Token::Map(n) => M::Map(
                (0..n)
                    .map(|_| Ok((tree(rd)?, tree(rd)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    /// Everything rmpv writes, this reader reads back identically, and
    /// `skip` consumes exactly one value.
    #[test]
    fn agrees_with_rmpv_on_valid_input() {
        let values = vec![
            M::Nil,
            M::Boolean(true),
            M::from(0),
            M::from(127),
            M::from(128),
            M::from(65_536),
            M::from(u64::MAX),
            M::from(-1),
            M::from(-33),
            M::from(-200),
            M::from(-40_000),
            M::from(i64::MIN),
            M::F32(1.5),
            M::F64(-2.25),
            M::from("x".repeat(40).as_str()),
            M::from("y".repeat(300).as_str()),
            M::Binary(vec![1, 2, 3]),
            M::Ext(0, vec![0]),
            M::Ext(12, vec![1, 2, 3]),
            M::Ext(5, vec![0; 300]),
            M::Array((0..20).map(M::from).collect()),
            M::Map(vec![(M::from("k"), M::Array(vec![M::Nil]))]),
        ];
        for v in values {
            let mut buf = Vec::new();
            rmpv::encode::write_value(&mut buf, &v).unwrap();
            let mut rd = &buf[..];
            assert_eq!(tree(&mut rd), Ok(v.clone()), "value {v:?}");
            assert!(rd.is_empty(), "value {v:?} left bytes");
            buf.push(0xc0);
            let mut rd = &buf[..];
            assert_eq!(skip(&mut rd), Ok(()), "skip {v:?}");
            assert_eq!(rd, &[0xc0], "skip {v:?} consumed exactly one value");
        }
    }

    #[test]
    fn rejects_garbage() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("reserved marker", vec![0xc1]),
            ("reserved marker nested", vec![0x91, 0xc1]),
            ("truncated str", vec![0xa5, b'a']),
            ("huge array length", vec![0xdd, 0xff, 0xff, 0xff, 0xff]),
            ("deep nesting", vec![0x91; 1000]),
        ];
        for (name, bytes) in cases {
            assert!(skip(&mut &bytes[..]).is_err(), "case {name}");
        }
    }
}
