"""legerd: Leger's local secrets daemon (a setec-compatible server)."""

__version__ = "0.1.0"
