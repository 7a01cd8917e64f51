data "keyshift_kms_instance" "payments" {
  name = "payments"
}

output "payments_instance_id" {
  value = data.keyshift_kms_instance.payments.id
}
