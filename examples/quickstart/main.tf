# Keyshift quickstart: a KMS instance, three keys and an alias in the
# embedded key store (./.keyshift next to this file). Run `make demo` from
# the repository root.
terraform {
  required_providers {
    keyshift = {
      source = "keyshift/keyshift"
    }
  }
}

provider "keyshift" {
  region = "eu-central-1"
}

resource "keyshift_kms_instance" "payments" {
  name      = "payments"
  type      = "software"
  key_quota = 100
}

# A key in the shared KMS (no instance_id).
resource "keyshift_key" "shared" {
  description = "application data key (shared KMS)"
  tags = {
    team = "platform"
  }
}

# Two keys in the dedicated instance. The data key rotates every 90 days
# (run `keyshift rotate --due` from cron or a CI schedule; `keyshift key
# rotate alias/payments/data` rotates on demand); rotating needs a
# multi-version key.
resource "keyshift_key" "payments_data" {
  instance_id             = keyshift_kms_instance.payments.id
  description             = "payments data key"
  multi_version           = true
  rotation_interval       = "90d"
  deletion_window_in_days = 7
}

resource "keyshift_key" "payments_signing" {
  instance_id = keyshift_kms_instance.payments.id
  spec        = "EC_P256"
  usage       = "SIGN/VERIFY"
  description = "payments request signing"
}

resource "keyshift_alias" "payments_data" {
  name   = "alias/payments/data"
  key_id = keyshift_key.payments_data.id
}

output "instance_id" {
  value = keyshift_kms_instance.payments.id
}

output "key_ids" {
  value = {
    shared           = keyshift_key.shared.id
    payments_data    = keyshift_key.payments_data.id
    payments_signing = keyshift_key.payments_signing.id
  }
}

output "alias" {
  value = keyshift_alias.payments_data.name
}
