//! Table-driven tests of adding and removing prepared `ignore_changes`
//! entries on inline HCL.

use super::*;

const ATTR: &str = "dkms_instance_id";

/// (name, input, expected after prepare; `None` = already ignored)
const CASES: &[(&str, &str, Option<&str>)] = &[
    (
        "no lifecycle",
        "resource \"t\" \"a\" {\n  name = \"x\"\n}\n",
        Some(
            "resource \"t\" \"a\" {\n  name = \"x\"\n\n  lifecycle {\n    ignore_changes = [dkms_instance_id /* keyshift:prepare, new lifecycle */]\n  }\n}\n",
        ),
    ),
    (
        "no lifecycle, empty multi-line body",
        "resource \"t\" \"a\" {\n}\n",
        Some(
            "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [dkms_instance_id /* keyshift:prepare, new lifecycle */]\n  }\n}\n",
        ),
    ),
    (
        "one-line block",
        "resource \"t\" \"a\" { name = \"x\" }\n",
        Some(
            "resource \"t\" \"a\" {\n  name = \"x\"\n\n  lifecycle {\n    ignore_changes = [dkms_instance_id /* keyshift:prepare, new lifecycle */]\n  }\n}\n",
        ),
    ),
    (
        "empty one-line block",
        "resource \"t\" \"a\" {}\n",
        Some(
            "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [dkms_instance_id /* keyshift:prepare, new lifecycle */]\n  }\n}\n",
        ),
    ),
    (
        "lifecycle without ignore_changes",
        "resource \"t\" \"a\" {\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n",
        Some(
            "resource \"t\" \"a\" {\n  lifecycle {\n    prevent_destroy = true\n    ignore_changes  = [dkms_instance_id /* keyshift:prepare, new ignore_changes */]\n  }\n}\n",
        ),
    ),
    (
        "lifecycle with a longer key, padded",
        "resource \"t\" \"a\" {\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n",
        Some(
            "resource \"t\" \"a\" {\n  lifecycle {\n    create_before_destroy = true\n    ignore_changes        = [dkms_instance_id /* keyshift:prepare, new ignore_changes */]\n  }\n}\n",
        ),
    ),
    (
        "one-line list",
        "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [tags] # mine\n  }\n}\n",
        Some(
            "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [tags, dkms_instance_id /* keyshift:prepare */] # mine\n  }\n}\n",
        ),
    ),
    (
        "empty list",
        "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = []\n  }\n}\n",
        Some(
            "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [dkms_instance_id /* keyshift:prepare */]\n  }\n}\n",
        ),
    ),
    (
        "multi-line list with trailing comma",
        "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [\n      tags, # why\n    ]\n  }\n}\n",
        Some(
            "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [\n      tags, # why\n      dkms_instance_id /* keyshift:prepare */,\n    ]\n  }\n}\n",
        ),
    ),
    (
        "multi-line list without trailing comma",
        "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [\n      tags\n    ]\n  }\n}\n",
        Some(
            "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [\n      tags,\n      dkms_instance_id /* keyshift:prepare */\n    ]\n  }\n}\n",
        ),
    ),
    (
        "CRLF",
        "resource \"t\" \"a\" {\r\n  name = \"x\"\r\n}\r\n",
        Some(
            "resource \"t\" \"a\" {\r\n  name = \"x\"\r\n\r\n  lifecycle {\r\n    ignore_changes = [dkms_instance_id /* keyshift:prepare, new lifecycle */]\r\n  }\r\n}\r\n",
        ),
    ),
    (
        "ignore_changes = all",
        "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = all\n  }\n}\n",
        None,
    ),
    (
        "already listed by the user",
        "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [dkms_instance_id]\n  }\n}\n",
        None,
    ),
];

#[test]
fn prepare_then_finalize_round_trips() {
    for (name, input, want) in CASES {
        let got = ignore_in_text(input, "t", "a", ATTR).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.as_deref(), *want, "{name}");
        let Some(prepared) = got else {
            assert_eq!(unignore_in_text(input, "t", "a", ATTR), Ok(None), "{name}");
            continue;
        };
        // Idempotent: the second run changes nothing.
        assert_eq!(
            ignore_in_text(&prepared, "t", "a", ATTR),
            Ok(None),
            "{name}: second prepare"
        );
        let restored = unignore_in_text(&prepared, "t", "a", ATTR)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: marker not found"));
        if input.contains("{ name") || input.contains("{}") {
            // A one-line block stays expanded.
            assert_eq!(
                ignore_in_text(&restored, "t", "a", ATTR)
                    .unwrap()
                    .as_deref(),
                Some(prepared.as_str()),
                "{name}"
            );
        } else {
            assert_eq!(restored, *input, "{name}: finalize restores the original");
        }
        assert_eq!(
            unignore_in_text(&restored, "t", "a", ATTR),
            Ok(None),
            "{name}: second finalize"
        );
    }
}

#[test]
fn an_entry_edited_after_prepare_is_reported() {
    let edited = "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [dkms_instance_id /* keyshift:prepare */, tags]\n  }\n}\n";
    let err = unignore_in_text(edited, "t", "a", ATTR).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 3: the `ignore_changes` entry dkms_instance_id that keyshift rewrite --prepare \
         added was edited since; remove it (and its `/* keyshift:prepare... */` comment) \
         from the lifecycle block by hand"
    );
}

#[test]
fn layouts_it_will_not_edit_are_errors() {
    let cases = [
        (
            "not a list",
            "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = local.x\n  }\n}\n",
            "line 3: ignore_changes is neither a list nor `all`",
        ),
        (
            "two lifecycle blocks",
            "resource \"t\" \"a\" {\n  lifecycle {\n  }\n  lifecycle {\n  }\n}\n",
            "line 4: more than one lifecycle block",
        ),
        (
            "list closed on the line of its last element",
            "resource \"t\" \"a\" {\n  lifecycle {\n    ignore_changes = [\n      tags]\n  }\n}\n",
            "line 4: the closing `]` of ignore_changes is not on its own line",
        ),
    ];
    for (name, input, want) in cases {
        let err = ignore_in_text(input, "t", "a", ATTR).unwrap_err();
        assert_eq!(err.to_string(), want, "{name}");
    }
}
