"""leger-server: Leger's cloud account service."""

__version__ = "0.1.0"
