//! Format-preserving edits of `.tf` files.
//!
//! hcl-edit is only used to *find* things (blocks, attributes and their byte
//! spans); every change is a splice into the original text, so all other
//! bytes (comments, heredocs, escapes, CRLF, BOM) survive untouched.

pub mod attr;
pub mod find;
pub mod layout;
pub mod lifecycle;
pub mod source;
pub mod splice;
pub mod value;

pub use attr::{AttrEdit, EditKind, set_attribute};
pub use source::{ParseError, SourceFile};
pub use splice::{Edit, apply_edits};
