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
