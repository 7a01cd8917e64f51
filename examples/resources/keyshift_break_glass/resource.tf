# Break glass for an emergency change: the on-call engineer may decrypt with
# the payments key for two hours. Apply issues the credential into a store
# secret; fetch it with `keyshift break-glass credential <id>`.
# Destroy repairs glass (revokes the grant and destroys the credential).
resource "keyshift_break_glass" "incident" {
  change_request    = "CHG0030001"
  principal         = "oncall@example.com"
  key_ids           = [keyshift_key.payments.id]
  permissions       = ["decrypt"]
  ttl               = "2h"
  reason            = "INC0012345: replay failed settlement batch"
  credential_key_id = keyshift_key.payments.id
}
