//! Finding resource blocks and module calls in a parsed body.

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};

/// A top-level `resource "TYPE" "NAME" { ... }` block.
#[derive(Debug, Clone, Copy)]
pub struct ResourceBlock<'a> {
    /// Resource type.
    pub rtype: &'a str,
    /// Resource name.
    pub name: &'a str,
    /// The block.
    pub block: &'a Block,
}

/// All top-level resource blocks of `body`, in file order.
pub fn resource_blocks(body: &Body) -> impl Iterator<Item = ResourceBlock<'_>> {
    body.blocks()
        .filter(|b| b.ident.as_str() == "resource")
        .filter_map(|block| match block.labels.as_slice() {
            [t, n] => Some(ResourceBlock {
                rtype: t.as_str(),
                name: n.as_str(),
                block,
            }),
            _ => None,
        })
}

/// Finds `resource "rtype" "name"`.
pub fn find_resource<'a>(body: &'a Body, rtype: &str, name: &str) -> Option<ResourceBlock<'a>> {
    resource_blocks(body).find(|r| r.rtype == rtype && r.name == name)
}

/// A `module "NAME" { source = ... }` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleCall {
    /// Call name.
    pub name: String,
    /// `source`, when it is a literal string.
    pub source: Option<String>,
    /// Whether the call uses `count` or `for_each`.
    pub repeated: bool,
}

impl ModuleCall {
    /// Whether the source is a local path (`./` or `../`).
    pub fn is_local(&self) -> bool {
        self.source
            .as_deref()
            .is_some_and(|s| s.starts_with("./") || s.starts_with("../"))
    }
}

/// All top-level module calls of `body`.
pub fn module_calls(body: &Body) -> Vec<ModuleCall> {
    body.blocks()
        .filter(|b| b.ident.as_str() == "module")
        .filter_map(|block| {
            let [label] = block.labels.as_slice() else {
                return None;
            };
            let source = block
                .body
                .get_attribute("source")
                .and_then(|a| match &a.value {
                    Expression::String(s) => Some(s.value().to_string()),
                    _ => None,
                });
            Some(ModuleCall {
                name: label.as_str().to_owned(),
                source,
                repeated: block.body.has_attribute("count") || block.body.has_attribute("for_each"),
            })
        })
        .collect()
}
