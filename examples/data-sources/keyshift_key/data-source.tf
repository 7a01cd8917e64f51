data "keyshift_key" "by_alias" {
  alias = "alias/payments/data"
}

output "key_state" {
  value = data.keyshift_key.by_alias.state
}
