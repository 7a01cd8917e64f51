//! Two `terraform apply` runs at once on one key store both
//! complete (writers serialize in SQLite), and every key each created is in
//! the store afterwards, readable from either side.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyshift_e2e::Tf;

fn config(store: &std::path::Path, team: &str) -> String {
    format!(
        "provider \"keyshift\" {{\n  store_path = \"{}\"\n}}\n\nresource \"keyshift_key\" \"k\" {{\n  count       = 40\n  description = \"{team} ${{count.index}}\"\n}}\n",
        store.display()
    )
}

#[test]
fn two_applies_at_once_on_one_store() {
    let store = tempfile::tempdir().unwrap();
    let (a, b) = (Tf::new(), Tf::new());
    a.write_main(&config(store.path(), "a"));
    b.write_main(&config(store.path(), "b"));
    let (ra, rb) = std::thread::scope(|s| {
        let ha = s.spawn(|| a.run(&["apply", "-auto-approve"]));
        let hb = s.spawn(|| b.run(&["apply", "-auto-approve"]));
        (ha.join().unwrap(), hb.join().unwrap())
    });
    assert_eq!(ra.code, 0, "{}", ra.all());
    assert_eq!(rb.code, 0, "{}", rb.all());
    let ids = |tf: &Tf| -> Vec<String> {
        tf.state_json()["values"]["root_module"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["values"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (ia, ib) = (ids(&a), ids(&b));
    assert_eq!((ia.len(), ib.len()), (40, 40));
    assert!(ia.iter().all(|id| !ib.contains(id)));
    // Each side sees the other's keys in the shared store.
    a.write(
        "peek.tf",
        &format!("data \"keyshift_key\" \"other\" {{\n  id = \"{}\"\n}}\n\noutput \"other\" {{\n  value = data.keyshift_key.other.description\n}}\n", ib[7]),
    );
    a.apply();
    let seen = a.run(&["output", "-raw", "other"]).ok().stdout;
    assert!(seen.starts_with("b "), "{seen}");
    a.assert_clean_plan();
    b.assert_clean_plan();
}
