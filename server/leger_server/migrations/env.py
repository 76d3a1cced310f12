"""Alembic environment: the engine comes from :func:`leger_server.db.migrate`."""

from __future__ import annotations

from alembic import context

from leger_server.db import metadata

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata)
    context.run_migrations()
