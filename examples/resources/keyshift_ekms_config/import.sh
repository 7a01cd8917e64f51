# Import by container id: `shared` for the shared KMS, else the instance id.
terraform import keyshift_ekms_config.payments kst-0123456789ab
terraform import keyshift_ekms_config.shared shared
