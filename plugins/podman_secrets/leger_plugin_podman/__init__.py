"""Podman's secret store (podman-py) and the ``leger driver`` shell-driver shim.

This ``__init__`` stays empty on purpose: ``leger driver lookup`` runs at every container start
through :mod:`leger_plugin_podman.fast` and must not import click or pluggy. The hooks are in
:mod:`leger_plugin_podman.plugin` (the entry point). The container test fixtures live in the
dev-only test kit (:mod:`leger_testkit.podman`), not here.
"""
