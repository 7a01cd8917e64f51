//! Seeds a key store for `make bench-migrate`: N `AES_256` keys in the
//! shared KMS and an empty software instance with room for them; prints the
//! instance id. Usage: `seed_migration_bench STORE_DIR N`.

use keyshift_core::engine::Kms;
use keyshift_core::store::{Container, InstanceType, KeySpec, KeyUsage, NewInstance, NewKey};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<i64>().ok()))
    else {
        eprintln!("usage: seed_migration_bench STORE_DIR N");
        return ExitCode::from(2);
    };
    let seeded = (|| {
        let kms = Kms::open(std::path::Path::new(dir), "bench")?;
        let inst = kms.create_instance(NewInstance {
            name: "bench".into(),
            instance_type: InstanceType::Software,
            region: "local-1".into(),
            key_quota: n + 1,
            secret_quota: 1,
        })?;
        for _ in 0..n {
            kms.create_key(NewKey::new(
                Container::Shared,
                KeySpec::Aes256,
                KeyUsage::EncryptDecrypt,
            ))?;
        }
        Ok::<_, keyshift_core::store::StoreError>(inst.id)
    })();
    match seeded {
        Ok(id) => {
            println!("{id}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed_migration_bench: {e}");
            ExitCode::from(1)
        }
    }
}
