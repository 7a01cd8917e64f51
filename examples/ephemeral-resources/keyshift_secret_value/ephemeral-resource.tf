# Read the current value of a secret without storing it anywhere: the
# result exists only while Terraform runs (Terraform 1.10+).
ephemeral "keyshift_secret_value" "db" {
  name = "app/db-password"
  # instance_id   = keyshift_kms_instance.main.id   # secrets of an instance
  # version_stage = "ACSPrevious"                   # or version_id = "..."
}

# Copy it into another secret through a write-only argument (never in state).
resource "keyshift_secret" "copy" {
  name                   = "app/db-password-copy"
  encryption_key_id      = keyshift_key.secrets.id
  secret_data_wo         = ephemeral.keyshift_secret_value.db.value
  secret_data_wo_version = 1
}
