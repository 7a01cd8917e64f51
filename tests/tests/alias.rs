//! `keyshift_alias` end to end through the real terraform CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Tf, planned_actions};

fn config(target: &str) -> String {
    format!(
        r#"resource "keyshift_key" "one" {{}}

resource "keyshift_key" "two" {{}}

resource "keyshift_alias" "a" {{
  name   = "alias/app/data"
  key_id = keyshift_key.{target}.id
}}

data "keyshift_key" "by_alias" {{
  alias = keyshift_alias.a.name
}}

output "resolved" {{
  value = data.keyshift_key.by_alias.id
}}
"#
    )
}

#[test]
fn lifecycle_create_repoint_import_destroy() {
    let tf = Tf::new();
    tf.write_main(&config("one"));
    tf.apply();
    let one = tf.resource("keyshift_key.one")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let two = tf.resource("keyshift_key.two")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alias = tf.resource("keyshift_alias.a");
    assert_eq!(alias["id"], "alias/app/data");
    assert_eq!(alias["key_id"], one.as_str());
    assert_eq!(tf.run(&["output", "-raw", "resolved"]).ok().stdout, one);
    tf.assert_clean_plan();

    // Re-pointing is an in-place update.
    tf.write_main(&config("two"));
    assert_eq!(
        planned_actions(&tf.plan_json(), "keyshift_alias.a"),
        ["update"]
    );
    tf.apply();
    let repointed = tf.resource("keyshift_alias.a");
    assert_eq!(repointed["key_id"], two.as_str());
    assert_eq!(tf.run(&["output", "-raw", "resolved"]).ok().stdout, two);
    tf.assert_clean_plan();

    // Importing by name, with the CLI and with an import {} block.
    tf.run(&["state", "rm", "keyshift_alias.a"]).ok();
    tf.run(&["import", "keyshift_alias.a", "alias/app/data"])
        .ok();
    assert_eq!(tf.resource("keyshift_alias.a"), repointed);
    tf.assert_clean_plan();
    tf.run(&["state", "rm", "keyshift_alias.a"]).ok();
    tf.write(
        "import.tf",
        "import {\n  to = keyshift_alias.a\n  id = \"alias/app/data\"\n}\n",
    );
    tf.apply();
    assert_eq!(tf.resource("keyshift_alias.a"), repointed);
    tf.assert_clean_plan();

    tf.destroy().ok();
    assert!(
        tf.state_json()
            .pointer("/values/root_module/resources")
            .is_none()
    );
}
