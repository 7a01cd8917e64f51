resource "keyshift_kms_instance" "payments" {
  name = "payments"
}

# Wrap the instance's root key with a customer-managed AWS KMS key (BYOK).
resource "keyshift_ekms_config" "payments" {
  instance_id     = keyshift_kms_instance.payments.id
  aws_kms_key_arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  architecture    = "current"

  # DANGEROUS escape hatch: only set to true (and apply) right before a
  # deliberate destroy that re-wraps the root key internally.
  allow_revert_to_internal = false
}

# Keys created in the instance after activation are protected by the AWS key.
resource "keyshift_key" "card_data" {
  instance_id = keyshift_ekms_config.payments.instance_id
  description = "card data"
}

output "ekms_key_status" {
  value = keyshift_ekms_config.payments.key_status
}
