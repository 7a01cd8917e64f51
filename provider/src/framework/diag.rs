//! Diagnostics with attribute paths, as resources report them.

/// One step of an attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// An attribute of an object.
    Attr(String),
    /// A map key (or a set element's string key).
    Key(String),
    /// A list index.
    Index(i64),
}

/// A path to an attribute inside a resource's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    /// The path of a top-level attribute.
    pub fn attr(name: &str) -> Self {
        AttrPath(vec![PathStep::Attr(name.to_string())])
    }

    /// This path, then a map key.
    pub fn key(mut self, key: &str) -> Self {
        self.0.push(PathStep::Key(key.to_string()));
        self
    }

    /// This path, then a list index.
    pub fn index(mut self, i: i64) -> Self {
        self.0.push(PathStep::Index(i));
        self
    }
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                PathStep::Attr(a) if i == 0 => write!(f, "{a}")?,
                PathStep::Attr(a) => write!(f, ".{a}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The operation failed.
    Error,
    /// The operation went through; the user should know something.
    Warning,
}

/// A message for the Terraform user, optionally pointing at an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line.
    pub summary: String,
    /// The explanation and what to do about it.
    pub detail: String,
    /// The attribute the message is about, if any.
    pub path: Option<AttrPath>,
}

impl Diagnostic {
    /// An error with no attribute path.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        }
    }

    /// A warning with no attribute path.
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(summary, detail)
        }
    }

    /// An error about top-level attribute `attr`.
    pub fn attr_error(attr: &str, summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Diagnostic::error(summary, detail).at(AttrPath::attr(attr))
    }

    /// This diagnostic, pointing at `path`.
    pub fn at(mut self, path: AttrPath) -> Self {
        self.path = Some(path);
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A list of diagnostics: what validate/plan/apply hand back.
pub type Diagnostics = Vec<Diagnostic>;

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        vec![d]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_display() {
        let p = AttrPath::attr("tags").key("env");
        assert_eq!(p.to_string(), "tags[\"env\"]");
        assert_eq!(AttrPath::attr("a").index(2).to_string(), "a[2]");
    }
}
