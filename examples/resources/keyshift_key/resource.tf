resource "keyshift_key" "example" {
  instance_id             = keyshift_kms_instance.example.id # omit, or "shared", for the shared KMS
  spec                    = "AES_256"
  usage                   = "ENCRYPT/DECRYPT"
  description             = "application data key"
  multi_version           = true  # needed to rotate
  rotation_interval       = "90d" # `keyshift rotate --due` rotates it once due
  deletion_window_in_days = 7
  deletion_protection     = false
  tags = {
    team = "platform"
  }
}

# BYOK: the material is write-only and never lands in state or plans.
variable "byok_material" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "keyshift_key" "byok" {
  origin                  = "EXTERNAL"
  key_material_wo         = var.byok_material # base64 of 32 bytes
  key_material_wo_version = 1                 # bump to import again
}
