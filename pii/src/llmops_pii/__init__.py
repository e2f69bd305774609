"""PII and secrets redaction: recognisers, policy, and the text and call redactors."""
