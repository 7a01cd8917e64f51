# Can the payments instance be moved onto the replica instance?
data "keyshift_preflight" "move_payments" {
  operation          = "move"
  source_instance_id = keyshift_kms_instance.payments.id
  target_instance_id = keyshift_kms_instance.replica.id
  # target_store_path = "/srv/keyshift-dr" # when the target is another store
  # legacy_support    = true               # overrides the provider setting
}

# Gate the automation on the preflight result: a blocked result fails the
# plan with the reason and remediation.
resource "terraform_data" "move_payments" {
  input = data.keyshift_preflight.move_payments.row

  lifecycle {
    precondition {
      condition     = data.keyshift_preflight.move_payments.result == "supported"
      error_message = "Preflight blocked (row ${data.keyshift_preflight.move_payments.row}): ${data.keyshift_preflight.move_payments.reason} ${data.keyshift_preflight.move_payments.remediation}"
    }
  }
}
