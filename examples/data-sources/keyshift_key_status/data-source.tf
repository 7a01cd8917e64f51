# Health of the key configured for an instance (recorded as its last status).
data "keyshift_key_status" "payments" {
  instance_id = keyshift_kms_instance.payments.id
}

# Or of any AWS KMS key, by ARN.
data "keyshift_key_status" "candidate" {
  aws_kms_key_arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
}

check "ekms_key_healthy" {
  assert {
    condition     = data.keyshift_key_status.payments.status == "ACTIVE"
    error_message = "EKMS key is ${data.keyshift_key_status.payments.status}: ${data.keyshift_key_status.payments.remediation}"
  }
}
