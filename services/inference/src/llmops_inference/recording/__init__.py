"""Call recording: building ``llmops.call.recorded.v2`` events, the buffer and the local spool."""
