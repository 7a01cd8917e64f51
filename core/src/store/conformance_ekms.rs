//! Conformance checks for the EKMS configuration records of a
//! [`KeyStore`]; registered in [`crate::store::conformance::CHECKS`] like
//! every other check.

use crate::store::conformance::{
    ConformanceResult, ensure, expect_err, is_not_found, ok, sample_container, sample_instance,
};
use crate::store::traits::{KeyStore, read_with, write_with};
use crate::store::{Container, EkmsArchitecture, EkmsConfig};
/// EKMS configurations: put/replace/read/list/delete, `NotFound` for an
/// unknown container or a missing configuration, removed with their container.
pub fn ekms_configs_round_trip(store: &dyn KeyStore) -> ConformanceResult {
    let inst = sample_instance();
    let c = Container::Instance(inst.id.clone());
    ok(
        "setup",
        write_with(store, |tx| {
            tx.insert_instance(&inst)?;
            tx.put_container(&sample_container(c.clone()))
        }),
    )?;
    let mut cfg = EkmsConfig {
        container: c.clone(),
        key_arn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            .into(),
        architecture: EkmsArchitecture::Current,
        allow_revert_to_internal: false,
        last_status: None,
        last_aws_state: None,
        last_checked_at: None,
        created_at: "2024-01-01T00:00:00Z".into(),
    };
    ensure!(
        ok("read missing", read_with(store, |r| r.ekms_config(&c)))?.is_none(),
        "no config yet"
    );
    ok("put", write_with(store, |tx| tx.put_ekms_config(&cfg)))?;
    let got = ok("read", read_with(store, |r| r.ekms_config(&c)))?;
    ensure!(got.as_ref() == Some(&cfg), "round trip: {got:?}");
    cfg.architecture = EkmsArchitecture::Legacy;
    cfg.allow_revert_to_internal = true;
    cfg.last_status = Some("DISABLED".into());
    cfg.last_aws_state = Some("Disabled".into());
    cfg.last_checked_at = Some("2024-01-02T00:00:00Z".into());
    ok("replace", write_with(store, |tx| tx.put_ekms_config(&cfg)))?;
    let got = ok("read", read_with(store, |r| r.ekms_config(&c)))?;
    ensure!(got.as_ref() == Some(&cfg), "replace: {got:?}");
    let all = ok("list", read_with(store, |r| r.ekms_configs()))?;
    ensure!(
        all.iter().filter(|x| x.container == c).count() == 1,
        "listed once"
    );
    let mut orphan = cfg.clone();
    orphan.container = Container::Instance(sample_instance().id);
    expect_err(
        "unknown container",
        write_with(store, |tx| tx.put_ekms_config(&orphan)),
        is_not_found,
    )?;
    ok("delete", write_with(store, |tx| tx.delete_ekms_config(&c)))?;
    expect_err(
        "delete twice",
        write_with(store, |tx| tx.delete_ekms_config(&c)),
        is_not_found,
    )?;
    ok(
        "put again",
        write_with(store, |tx| tx.put_ekms_config(&cfg)),
    )?;
    ok(
        "drop container",
        write_with(store, |tx| {
            tx.delete_container(&c)?;
            tx.delete_instance(&inst.id)
        }),
    )?;
    let gone = ok("read", read_with(store, |r| r.ekms_config(&c)))?;
    ensure!(gone.is_none(), "configuration removed with its container");
    Ok(())
}
