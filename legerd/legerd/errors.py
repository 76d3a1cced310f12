"""Errors of the store and the API; the API turns each into its setec status code."""

from __future__ import annotations


class StoreError(Exception):
    """Base: ``status`` is the HTTP status setec answers with; the message never holds a value."""

    status = 500


class BadRequest(StoreError):
    status = 400


class Denied(StoreError):
    status = 403


class NotFound(StoreError):
    status = 404


class VersionExists(StoreError):
    status = 412


class StateError(Exception):
    """The state directory cannot be used (tampered, wrong key, locked, partial); legerd stops."""
