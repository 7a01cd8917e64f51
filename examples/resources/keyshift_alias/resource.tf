resource "keyshift_alias" "example" {
  name   = "alias/payments/data"
  key_id = keyshift_key.example.id
}
