# Import by alias name.
terraform import keyshift_alias.example alias/payments/data
