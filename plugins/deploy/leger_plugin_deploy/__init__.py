"""Deploy and update quadlet releases. Behaviour lands in a later change."""
