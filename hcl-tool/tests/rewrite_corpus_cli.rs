//! Real-world check: insert an attribute into every `resource` block of the
//! dev corpus (verbatim .tf files from public modules) and verify that only
//! inserted lines differ, that `terraform fmt`-clean files stay clean, and
//! that a second run is a no-op.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{copy_tree, fmt_unclean};

use keyshift::hcl::SourceFile;
use keyshift::rewrite::everywhere::{Types, insert_attribute_everywhere, tf_files_recursive};
use similar::{ChangeTag, TextDiff};
use std::path::Path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus-dev");
const KEY: &str = "keyshift_instance_id";
const VALUE: &str = "\"kst-corpus\"";

/// Every removed line must be a one-line resource block that was expanded;
/// every added line must be the new attribute, a blank separator, or part of
/// such an expansion.
fn assert_only_insertions(name: &str, old: &str, new: &str) {
    let diff = TextDiff::from_lines(old, new);
    let mut removed_one_liners = 0;
    for change in diff.iter_all_changes() {
        let line = change.value().trim_end_matches(['\n', '\r']);
        match change.tag() {
            ChangeTag::Equal => {}
            ChangeTag::Delete => {
                assert!(
                    line.trim_start().starts_with("resource ") && line.trim_end().ends_with('}'),
                    "{name}: changed line {line:?}"
                );
                removed_one_liners += 1;
            }
            ChangeTag::Insert => {
                let t = line.trim();
                let ok = t.is_empty()
                    || t.starts_with(KEY)
                    || (removed_one_liners > 0 && (t == "}" || t.starts_with("resource ")));
                assert!(ok, "{name}: unexpected added line {line:?}");
            }
        }
    }
}

#[test]
fn corpus_insert_everywhere() {
    let corpus = Path::new(CORPUS);
    if !corpus.exists() {
        // Under CI a missing prerequisite is a failure, never a silent skip.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{CORPUS} is missing (CI=true): the real-world corpus test cannot run"
        );
        eprintln!("notice: {CORPUS} absent; skipping the real-world corpus test");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(corpus, tmp.path());
    let have_tf = Path::new("/usr/local/bin/terraform").exists();
    let unclean_before = if have_tf {
        fmt_unclean(tmp.path())
    } else {
        Vec::new()
    };
    let files = tf_files_recursive(tmp.path()).unwrap();
    assert!(files.len() > 50, "corpus too small: {}", files.len());
    let (mut changed, mut blocks) = (0, 0);
    for path in &files {
        let original = std::fs::read(path).unwrap();
        let source = SourceFile::from_bytes(path, original.clone()).unwrap();
        blocks += source.text.matches("\nresource \"").count();
        let new_text = insert_attribute_everywhere(&source, Types::All, KEY, VALUE).unwrap();
        let name = path.strip_prefix(tmp.path()).unwrap().display().to_string();
        if new_text == source.text {
            // Unchanged files come back byte-identical.
            assert_eq!(source.bytes_for(&new_text), original, "{name}");
            continue;
        }
        changed += 1;
        assert_only_insertions(&name, &source.text, &new_text);
        assert_eq!(
            new_text.matches(KEY).count(),
            source.text.matches(KEY).count()
                + keyshift::hcl::find::resource_blocks(&source.parse().unwrap()).count()
        );
        std::fs::write(path, source.bytes_for(&new_text)).unwrap();
        // Second run is a no-op.
        let again = SourceFile::read(path).unwrap();
        assert_eq!(
            insert_attribute_everywhere(&again, Types::All, KEY, VALUE).unwrap(),
            again.text,
            "{name}"
        );
    }
    assert!(
        changed > 5 && blocks > 20,
        "changed {changed} files, {blocks} blocks"
    );
    if have_tf {
        for f in fmt_unclean(tmp.path()) {
            assert!(
                unclean_before.contains(&f),
                "{f} was fmt-clean before the rewrite, not after"
            );
        }
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "terraform is missing (CI=true): fmt-cleanliness cannot be checked"
        );
        eprintln!("notice: terraform absent; fmt-cleanliness not checked");
    }
}
