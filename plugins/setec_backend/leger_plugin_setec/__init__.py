"""The setec secret backend (legerd or any tailscale/setec server) and ``leger local``.

This package's ``__init__`` stays empty on purpose: ``leger_plugin_setec.client`` is imported
on every container start, and importing it must not pull in pluggy or click. The hooks live in
:mod:`leger_plugin_setec.plugin` (the entry point).
"""
