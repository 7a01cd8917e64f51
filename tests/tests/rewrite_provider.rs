//! `keyshift rewrite` and `keyshift plan-check` on plans the real terraform
//! made with the keyshift provider: a key migrated outside this
//! configuration (from a second working directory sharing the store) makes
//! the plan want to move it back; `rewrite --plan` pins the new placement
//! so the plan is clean again, and `plan-check` refuses a key deletion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::{Tf, planned_actions};

#[test]
fn rewrite_from_a_real_plan_after_out_of_band_migration() {
    let a = Tf::new();
    a.write_main(
        r#"resource "keyshift_kms_instance" "a" {
  name = "team-a"
}

resource "keyshift_kms_instance" "b" {
  name = "team-b"
}

resource "keyshift_key" "k" {
  description = "orders" # stays
  instance_id = keyshift_kms_instance.a.id
}
"#,
    );
    a.apply();
    let key_id = a.resource("keyshift_key.k")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let kst_b = a.resource("keyshift_kms_instance.b")["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Out of band: another configuration on the same store migrates the key.
    let b = Tf::new();
    b.write_main(&format!(
        "provider \"keyshift\" {{\n  store_path = \"{}\"\n}}\n\nimport {{\n  to = keyshift_key.k\n  id = \"{key_id}\"\n}}\n\nresource \"keyshift_key\" \"k\" {{\n  description = \"orders\"\n  instance_id = \"{kst_b}\"\n}}\n",
        a.store().display()
    ));
    b.apply();
    assert_eq!(b.resource("keyshift_key.k")["instance_id"], kst_b.as_str());

    // Back in A the plan now wants to move the key back.
    let plan = a.plan_json();
    assert_eq!(planned_actions(&plan, "keyshift_key.k"), ["update"]);
    std::fs::write(a.path().join("plan.json"), plan.to_string()).unwrap();

    let check = a.keyshift(&["rewrite", ".", "--plan", "plan.json", "--check"]);
    assert_eq!(check.code, 1, "{}", check.all());
    assert!(
        check
            .stdout
            .contains(&format!("+  instance_id = \"{kst_b}\"")),
        "{}",
        check.all()
    );

    let before = std::fs::read_to_string(a.path().join("main.tf")).unwrap();
    let r = a.keyshift(&["rewrite", ".", "--plan", "plan.json", "--verify"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let after = std::fs::read_to_string(a.path().join("main.tf")).unwrap();
    assert_eq!(
        after,
        before.replace(
            "instance_id = keyshift_kms_instance.a.id",
            &format!("instance_id = \"{kst_b}\"")
        ),
        "only the attribute's value changed"
    );
    a.assert_clean_plan();
    assert_eq!(a.run(&["fmt", "-check"]).code, 0);

    // A second run is a no-op.
    let again = a.keyshift(&["rewrite", ".", "--plan", "plan.json"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(
        std::fs::read_to_string(a.path().join("main.tf")).unwrap(),
        after
    );

    // plan-check: a clean plan passes, a key deletion is refused.
    let clean = a.plan_json();
    std::fs::write(a.path().join("clean.json"), clean.to_string()).unwrap();
    assert_eq!(a.keyshift(&["plan-check", "clean.json"]).code, 0);
    a.write_main(
        "resource \"keyshift_kms_instance\" \"a\" {\n  name = \"team-a\"\n}\n\nresource \"keyshift_kms_instance\" \"b\" {\n  name = \"team-b\"\n}\n",
    );
    let deleting = a.plan_json();
    assert_eq!(planned_actions(&deleting, "keyshift_key.k"), ["delete"]);
    std::fs::write(a.path().join("delete.json"), deleting.to_string()).unwrap();
    let gate = a.keyshift(&["plan-check", "delete.json", "--format", "json"]);
    assert_eq!(gate.code, 1, "{}", gate.all());
    assert!(gate.stdout.contains("keyshift_key.k"), "{}", gate.all());
    let allowed = a.keyshift(&["plan-check", "delete.json", "--allow", "keyshift_key.k"]);
    assert_eq!(allowed.code, 0, "{}", allowed.all());
}
