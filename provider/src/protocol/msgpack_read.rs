//! A strict msgpack reader into [`rmpv::Value`].
//!
//! `rmpv::decode::read_value` reads the reserved marker `0xc1` as nil; on
//! the plugin channel that byte can only be garbage, so this reader rejects
//! it. It also bounds nesting depth and never preallocates from untrusted
//! lengths.

use rmpv::Value as M;

/// Deepest nesting accepted (Keyshift schemas nest a few levels).
const MAX_DEPTH: usize = 128;

/// Reads one msgpack value from the front of `rd`, advancing it.
pub(super) fn read_value(rd: &mut &[u8]) -> Result<M, String> {
    read(rd, MAX_DEPTH)
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

fn string(rd: &mut &[u8], n: usize) -> Result<M, String> {
    std::str::from_utf8(take(rd, n)?)
        .map(M::from)
        .map_err(|_| "string is not valid UTF-8".to_string())
}

fn array(rd: &mut &[u8], n: usize, depth: usize) -> Result<M, String> {
    let mut items = Vec::new();
    for _ in 0..n {
        items.push(read(rd, depth - 1)?);
    }
    Ok(M::Array(items))
}

fn map(rd: &mut &[u8], n: usize, depth: usize) -> Result<M, String> {
    let mut entries = Vec::new();
    for _ in 0..n {
        let k = read(rd, depth - 1)?;
        let v = read(rd, depth - 1)?;
        entries.push((k, v));
    }
    Ok(M::Map(entries))
}

fn ext(rd: &mut &[u8], n: usize) -> Result<M, String> {
    let ty = take(rd, 1)?[0] as i8;
    Ok(M::Ext(ty, take(rd, n)?.to_vec()))
}

fn read(rd: &mut &[u8], depth: usize) -> Result<M, String> {
    if depth == 0 {
        return Err("nesting too deep".to_string());
    }
    let marker = take(rd, 1)?[0];
    Ok(match marker {
        0x00..=0x7f => M::from(marker),
        0x80..=0x8f => return map(rd, usize::from(marker & 0x0f), depth),
        0x90..=0x9f => return array(rd, usize::from(marker & 0x0f), depth),
        0xa0..=0xbf => return string(rd, usize::from(marker & 0x1f)),
        0xc0 => M::Nil,
        0xc1 => return Err("reserved marker 0xc1".to_string()),
        0xc2 => M::Boolean(false),
        0xc3 => M::Boolean(true),
        0xc4..=0xc6 => {
            let n = len(rd, 1 << (marker - 0xc4))?;
            M::Binary(take(rd, n)?.to_vec())
        }
        0xc7..=0xc9 => {
            let n = len(rd, 1 << (marker - 0xc7))?;
            return ext(rd, n);
        }
        0xca => M::F32(f32::from_bits(be(rd, 4)? as u32)),
        0xcb => M::F64(f64::from_bits(be(rd, 8)?)),
        0xcc..=0xcf => M::from(be(rd, 1 << (marker - 0xcc))?),
        0xd0 => M::from(be(rd, 1)? as u8 as i8),
        0xd1 => M::from(be(rd, 2)? as u16 as i16),
        0xd2 => M::from(be(rd, 4)? as u32 as i32),
        0xd3 => M::from(be(rd, 8)? as i64),
        0xd4..=0xd8 => return ext(rd, 1 << (marker - 0xd4)),
        0xd9..=0xdb => {
            let n = len(rd, 1 << (marker - 0xd9))?;
            return string(rd, n);
        }
        0xdc | 0xdd => {
            let n = len(rd, if marker == 0xdc { 2 } else { 4 })?;
            return array(rd, n, depth);
        }
        0xde | 0xdf => {
            let n = len(rd, if marker == 0xde { 2 } else { 4 })?;
            return map(rd, n, depth);
        }
        0xe0..=0xff => M::from(marker as i8),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything rmpv writes, this reader reads back identically.
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
            assert_eq!(read_value(&mut rd), Ok(v.clone()), "value {v:?}");
            assert!(rd.is_empty(), "value {v:?} left bytes");
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
            assert!(read_value(&mut &bytes[..]).is_err(), "case {name}");
        }
    }
}
