"""Erasure of a data subject: delete from every table, keep a ledger so a replay does not bring it back
(docs/adr/0043-erasure-ledger.md)."""
