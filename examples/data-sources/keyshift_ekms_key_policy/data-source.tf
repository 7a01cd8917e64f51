# The statement the EKMS root-of-trust key must contain for the provider's
# service_principal (set in the provider block or KEYSHIFT_SERVICE_PRINCIPAL).
data "keyshift_ekms_key_policy" "this" {
  key_admin_principal = "arn:aws:iam::111122223333:root"
}

# A complete key policy for the AWS key (AWS provider):
resource "aws_kms_key" "root_of_trust" {
  description = "keyshift EKMS root of trust"
  policy      = data.keyshift_ekms_key_policy.this.json
}

# Or merged with statements of your own:
# data "aws_iam_policy_document" "key" {
#   source_policy_documents = [data.keyshift_ekms_key_policy.this.json]
#   statement { ... }
# }
