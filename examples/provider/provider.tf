terraform {
  required_providers {
    keyshift = {
      source = "keyshift/keyshift"
    }
  }
}

# Every setting is optional; each also reads a KEYSHIFT_* environment variable.
provider "keyshift" {
  store_path = "${path.root}/.keyshift" # KEYSHIFT_STORE
  region     = "eu-central-1"           # KEYSHIFT_REGION: default region of new instances
}

# A store shared by a team: PostgreSQL instead of a local directory. Every
# runner names the same database and the same master key (a key file
# distributed out of band, or an AWS KMS key that wraps it in the database).
provider "keyshift" {
  alias           = "shared"
  store_url       = "postgres://keyshift@db.internal:5432/keyshift?sslmode=verify-full" # KEYSHIFT_STORE
  master_key_file = "/run/secrets/keyshift-master.key"                                  # KEYSHIFT_MASTER_KEY_FILE
  # master_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/…"  # KEYSHIFT_MASTER_KEY_ARN, instead of a file
}
