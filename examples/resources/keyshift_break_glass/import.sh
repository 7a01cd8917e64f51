# Import by grant id. credential_key_id is read from the credential secret
# while it exists (null once the grant was repaired).
terraform import keyshift_break_glass.incident bg-3f9a1c2e4b5d6e7f
