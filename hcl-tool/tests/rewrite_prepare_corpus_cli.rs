//! Real-world check of `--prepare`/`--finalize` edits: add a marked
//! `ignore_changes` entry to every `resource` block of the dev corpus, then
//! take every entry out again. Files `terraform fmt` found clean stay clean,
//! a second prepare changes nothing, and finalizing gives back the original
//! bytes (a file with one-line resource blocks gives them back expanded).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::{copy_tree, fmt_unclean};

use keyshift::hcl::SourceFile;
use keyshift::hcl::find::resource_blocks;
use keyshift::hcl::lifecycle::{LifecycleError, ignore_in_text, unignore_in_text};
use keyshift::rewrite::everywhere::tf_files_recursive;
use std::path::Path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus-dev");
const ATTR: &str = "keyshift_instance_id";

/// `ignore_in_text` or `unignore_in_text`.
type Edit = fn(&str, &str, &str, &str) -> Result<Option<String>, LifecycleError>;

/// Applies `f` to every resource block of `text` in turn.
fn each_block(text: &str, blocks: &[(String, String)], f: Edit, name: &str) -> String {
    let mut text = text.to_owned();
    for (rtype, rname) in blocks {
        match f(&text, rtype, rname, ATTR) {
            Ok(Some(new)) => text = new,
            Ok(None) => {}
            Err(e) => panic!("{name}: {rtype}.{rname}: {e}"),
        }
    }
    text
}

#[test]
fn corpus_prepare_and_finalize() {
    // KEYSHIFT_CORPUS_DEV points elsewhere (e.g. from a git worktree).
    let corpus = std::env::var("KEYSHIFT_CORPUS_DEV").unwrap_or_else(|_| CORPUS.to_owned());
    let corpus = Path::new(&corpus);
    if !corpus.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing (CI=true): the real-world corpus test cannot run",
            corpus.display()
        );
        eprintln!(
            "notice: {} absent; skipping the real-world corpus test",
            corpus.display()
        );
        return;
    }
    let have_tf = Path::new("/usr/local/bin/terraform").exists();
    assert!(
        have_tf || std::env::var("CI").as_deref() != Ok("true"),
        "terraform is missing (CI=true)"
    );
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(corpus, tmp.path());
    let unclean_before = if have_tf {
        fmt_unclean(tmp.path())
    } else {
        Vec::new()
    };
    let files = tf_files_recursive(tmp.path()).unwrap();
    let (mut blocks_seen, mut with_lifecycle) = (0, 0);
    for path in &files {
        let original = std::fs::read(path).unwrap();
        let source = SourceFile::from_bytes(path, original.clone()).unwrap();
        let name = path.strip_prefix(tmp.path()).unwrap().display().to_string();
        let body = source.parse().unwrap();
        let blocks: Vec<(String, String)> = resource_blocks(&body)
            .map(|rb| (rb.rtype.to_owned(), rb.name.to_owned()))
            .collect();
        let one_line = resource_blocks(&body).any(|rb| rb.block.body.prefer_oneline());
        with_lifecycle += resource_blocks(&body)
            .filter(|rb| {
                rb.block
                    .body
                    .blocks()
                    .any(|b| b.ident.as_str() == "lifecycle")
            })
            .count();
        blocks_seen += blocks.len();
        let prepared = each_block(&source.text, &blocks, ignore_in_text, &name);
        assert_eq!(
            prepared.matches("/* keyshift:prepare").count(),
            blocks.len(),
            "{name}"
        );
        assert_eq!(
            each_block(&prepared, &blocks, ignore_in_text, &name),
            prepared,
            "{name}: second prepare"
        );
        let restored = each_block(&prepared, &blocks, unignore_in_text, &name);
        if one_line {
            assert_eq!(
                each_block(&restored, &blocks, ignore_in_text, &name),
                prepared,
                "{name}"
            );
        } else {
            assert_eq!(source.bytes_for(&restored), original, "{name}: finalize");
        }
        std::fs::write(path, source.bytes_for(&prepared)).unwrap();
    }
    assert!(
        blocks_seen > 20 && with_lifecycle > 0,
        "{blocks_seen} blocks, {with_lifecycle} with lifecycle"
    );
    if have_tf {
        for f in fmt_unclean(tmp.path()) {
            assert!(
                unclean_before.contains(&f),
                "{f} was fmt-clean before --prepare, not after"
            );
        }
    }
}
