resource "keyshift_kms_instance" "example" {
  name         = "payments"
  type         = "software" # or "hardware"
  region       = "eu-central-1"
  key_quota    = 1000
  secret_quota = 100
}
