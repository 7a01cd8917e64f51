resource "keyshift_key" "secrets" {
  description = "encrypts application secrets"
}

# Preferred: the value is write-only and never lands in state or plans.
variable "db_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

# No instance_id: the secret follows its key (a key's move carries the
# secrets it encrypts).
resource "keyshift_secret" "db" {
  name                   = "app/db-password"
  type                   = "RDS"
  encryption_key_id      = keyshift_key.secrets.id # an AES_256 key of the same container
  description            = "database password"
  secret_data_wo         = var.db_password
  secret_data_wo_version = 1 # bump to write the current value as a new version
  tags = {
    team = "platform"
  }
}

# Classic alternative: a sensitive attribute, which Terraform keeps in state.
resource "keyshift_secret" "api_token" {
  name              = "app/api-token"
  encryption_key_id = keyshift_key.secrets.id
  secret_data       = "example-token" # a change writes a new version
}
