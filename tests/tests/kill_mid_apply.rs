//! The provider killed (SIGKILL) in the middle of an apply leaves
//! the key store consistent, and re-running the apply converges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyshift_core::engine::Kms;
use keyshift_e2e::{Tf, provider_children};

const N: usize = 300;

#[test]
fn killed_provider_mid_apply_leaves_a_consistent_store_and_reapply_converges() {
    let tf = Tf::new();
    tf.write_main(&format!(
        "resource \"keyshift_key\" \"k\" {{\n  count       = {N}\n  description = \"k ${{count.index}}\"\n}}\n"
    ));
    let mut child = tf
        .command(&["apply", "-auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the apply is well under way, then SIGKILL the provider.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut killed = false;
    while Instant::now() < deadline && !killed {
        std::thread::sleep(Duration::from_millis(20));
        let made = Kms::open(&tf.store(), "e2e")
            .ok()
            .and_then(|k| k.list_keys(None).ok())
            .map_or(0, |v| v.len());
        if made >= 40 {
            for pid in provider_children(child.id()) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                killed = true;
            }
        }
    }
    assert!(killed, "never saw the provider process mid-apply");
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the apply must fail when its provider dies"
    );

    // The store is consistent: every key it holds is whole and usable.
    let kms = Kms::open(&tf.store(), "e2e").unwrap();
    let keys = kms.list_keys(None).unwrap();
    assert!(
        keys.len() < N,
        "killed before the end ({} keys)",
        keys.len()
    );
    for k in &keys {
        let ct = kms.encrypt(&k.id, b"probe").unwrap();
        assert_eq!(kms.decrypt(&ct).unwrap(), b"probe");
    }
    drop(kms);

    // Re-running converges: every instance exists, a second plan is clean.
    tf.apply();
    let state = tf.state_json();
    let in_state = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(in_state, N);
    tf.assert_clean_plan();
}
