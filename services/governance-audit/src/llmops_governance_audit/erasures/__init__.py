"""Data-subject erasure: the request API and the receipts read back from the warehouse (docs/governance.md#erasure)."""
