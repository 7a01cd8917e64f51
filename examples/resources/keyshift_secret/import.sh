# Import by secret id, or by <container>/<name> (container: shared or a kst- instance id).
# The value is never read back: secret_data and secret_data_wo_version start null.
# A configuration without secret_data / secret_data_wo adopts the secret and
# leaves its stored value untouched; adding secret_data_wo with a version
# adopts that version number without writing, and bumping it writes.
terraform import keyshift_secret.db sec-2b7c4e1a-9d3f-4a6b-8c5e-7f1d0a2b3c4d
terraform import keyshift_secret.db shared/app/db-password
