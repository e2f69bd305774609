"""Kafka helpers: topic catalog and provisioning (topics), producer/consumer loop, client security (security), ACLs
and SCRAM credentials (acls, scram)."""
