"""Call recording: building ``llmops.call.recorded.v1`` events, the buffer and the local spool."""
