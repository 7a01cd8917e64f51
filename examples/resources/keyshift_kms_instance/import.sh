# Import by instance id.
terraform import keyshift_kms_instance.example kst-0123456789ab
