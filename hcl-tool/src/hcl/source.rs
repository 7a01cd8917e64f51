//! A `.tf` file as bytes: BOM and line-ending handling, parsing with
//! file:line:column errors.

use hcl_edit::structure::Body;
use std::path::{Path, PathBuf};
use thiserror::Error;

const BOM: &str = "\u{feff}";

/// A `.tf` file that could not be read or parsed.
#[derive(Debug, Error)]
pub enum ParseError {
    /// Reading failed.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{path}:{line}:{column}: not valid UTF-8")]
    Utf8 {
        /// The file.
        path: PathBuf,
        /// One-based line of the first invalid byte.
        line: usize,
        /// One-based byte column of the first invalid byte.
        column: usize,
    },
    /// HCL syntax error.
    #[error("{path}:{line}:{column}: HCL parse error: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
}

impl ParseError {
    /// Whether this is valid HCL that the parser refuses only because it
    /// nests deeper than its fixed limits (64 levels, 128 chained binary
    /// operators), which keep its recursion bounded.
    pub fn is_parser_limit(&self) -> bool {
        matches!(self, ParseError::Syntax { message, .. }
            if message.contains("nested levels") || message.contains("chained binary operators"))
    }
}

/// The text of a `.tf` file with its BOM split off.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Where it came from.
    pub path: PathBuf,
    /// Whether the file started with a UTF-8 BOM.
    pub bom: bool,
    /// The text after the BOM.
    pub text: String,
}

impl SourceFile {
    /// Reads `path`.
    pub fn read(path: &Path) -> Result<Self, ParseError> {
        let bytes = std::fs::read(path).map_err(|source| ParseError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(path, bytes)
    }

    /// Wraps file content.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, ParseError> {
        let text = String::from_utf8(bytes).map_err(|e| {
            let (line, column) = line_column(e.as_bytes(), e.utf8_error().valid_up_to());
            ParseError::Utf8 {
                path: path.to_owned(),
                line,
                column,
            }
        })?;
        let (bom, text) = match text.strip_prefix(BOM) {
            Some(rest) => (true, rest.to_owned()),
            None => (false, text),
        };
        Ok(Self {
            path: path.to_owned(),
            bom,
            text,
        })
    }

    /// Parses the text.
    pub fn parse(&self) -> Result<Body, ParseError> {
        hcl_edit::parser::parse_body(&self.text).map_err(|e| ParseError::Syntax {
            path: self.path.clone(),
            line: e.location().line(),
            column: e.location().column() + usize::from(self.bom && e.location().line() == 1),
            message: e.message().to_owned(),
        })
    }

    /// The newline sequence the file uses ("\r\n" if its first line ends so).
    pub fn newline(&self) -> &'static str {
        newline_of(&self.text)
    }

    /// The bytes to write for `text` (BOM restored).
    pub fn bytes_for(&self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() + 3);
        if self.bom {
            out.extend_from_slice(BOM.as_bytes());
        }
        out.extend_from_slice(text.as_bytes());
        out
    }
}

/// One-based line and byte column of byte offset `at` in `bytes`.
pub fn line_column(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = bytes.get(..at).unwrap_or(bytes);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    (line, column)
}

/// The newline sequence of `text`.
pub fn newline_of(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}
