"""API keys: the tenant-facing registry (create, list, rotate, revoke) over the kit's key-state view."""
