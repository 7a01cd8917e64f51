//! Reading JSON inputs (plans, states, reports) safely.
//!
//! A CI gate must never hang or exhaust memory on odd input, so inputs are
//! read only from regular files (or standard input, spelled `-`), and never
//! more than [`MAX_INPUT_BYTES`]. A binary plan file and text that is not
//! UTF-8 are told apart from malformed JSON, each with what to run instead.

use crate::hcl::source::line_column;
use crate::plan::InputError;
use std::io::Read;
use std::path::Path;

/// The most an input may hold: 1 GiB, about twenty times the JSON plan of
/// 50,000 resources.
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// The path that means standard input.
pub const STDIN: &str = "-";

/// Reads the whole regular file at `path` (see the module docs).
pub fn read_input(path: &Path) -> Result<String, InputError> {
    read_limited(path, None, MAX_INPUT_BYTES)
}

/// Like [`read_input`], and `-` reads `stdin`.
pub fn read_input_or_stdin(path: &Path, stdin: &mut dyn Read) -> Result<String, InputError> {
    read_limited(path, Some(stdin), MAX_INPUT_BYTES)
}

fn read_limited(
    path: &Path,
    stdin: Option<&mut dyn Read>,
    limit: u64,
) -> Result<String, InputError> {
    let io = |source| InputError::Io {
        path: path.to_owned(),
        source,
    };
    let bytes = match stdin {
        Some(stdin) if path == Path::new(STDIN) => read_bounded(stdin, path, limit, 0)?,
        _ => {
            // `metadata` follows symlinks: a link to /dev/zero is refused too.
            let meta = std::fs::metadata(path).map_err(io)?;
            if !meta.is_file() {
                return Err(InputError::NotAFile {
                    path: path.to_owned(),
                    kind: file_kind(&meta),
                });
            }
            let file = std::fs::File::open(path).map_err(io)?;
            // Sized up front: growing by doubling would copy a 45 MB plan
            // several times and fault in pages it then drops.
            let expected = usize::try_from(meta.len().min(limit)).unwrap_or(0);
            read_bounded(&mut &file, path, limit, expected)?
        }
    };
    decode(path, bytes)
}

fn read_bounded(
    reader: &mut dyn Read,
    path: &Path,
    limit: u64,
    expected: usize,
) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::with_capacity(expected.saturating_add(1));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Io {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, InputError> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(InputError::BinaryPlan {
            path: path.to_owned(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(e.as_bytes(), e.utf8_error().valid_up_to());
        InputError::NotUtf8 {
            path: path.to_owned(),
            line,
            column,
        }
    })?;
    if text.trim().is_empty() {
        return Err(InputError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(text)
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_text(r: Result<String, InputError>) -> String {
        match r {
            Ok(t) => format!("ok: {t}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn refuses_what_is_not_a_small_text_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let zero_link = dir.path().join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &zero_link).unwrap();
        let fifo = dir.path().join("fifo.json");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo failed");
        let cases: Vec<(&str, std::path::PathBuf, &str)> = vec![
            (
                "directory",
                dir.path().to_owned(),
                "is a directory, not a regular file",
            ),
            ("link to /dev/zero", zero_link, "is a character device"),
            ("fifo without writer", fifo, "is a named pipe"),
            (
                "binary plan",
                file("tfplan", b"PK\x03\x04rest"),
                "binary plan file",
            ),
            ("empty", file("e.json", b" \n"), "file is empty"),
            (
                "invalid utf-8 names line and column",
                file("u.json", b"{\n  \"a\": \"\xff\"}"),
                "not UTF-8 text (line 2, column 9)",
            ),
            ("missing", dir.path().join("nope.json"), "cannot read"),
        ];
        for (name, path, want) in cases {
            let got = err_text(read_input(&path));
            assert!(got.contains(want), "{name}: {got}");
        }
    }

    #[test]
    fn bounded_and_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.json");
        std::fs::write(&p, "x".repeat(11)).unwrap();
        assert!(err_text(read_limited(&p, None, 10)).contains("larger than 10 bytes"));
        assert_eq!(read_limited(&p, None, 11).unwrap().len(), 11);
        let mut stdin: &[u8] = b"{\"from\":\"stdin\"}";
        let text = read_input_or_stdin(Path::new("-"), &mut stdin).unwrap();
        assert_eq!(text, "{\"from\":\"stdin\"}");
        let mut endless = std::io::repeat(b'x');
        let got = err_text(read_limited(Path::new("-"), Some(&mut endless), 1000));
        assert!(got.contains("larger than 1000 bytes"), "{got}");
    }
}
