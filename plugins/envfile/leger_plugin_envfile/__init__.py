"""EnvironmentFile delivery: ``leger secrets fetch SERVICE`` writes a 0600 env file that
podman's ``--env-file`` and systemd's ``EnvironmentFile=`` both read exactly.

This ``__init__`` stays empty on purpose: the fast path (:mod:`leger_plugin_envfile.fast`) runs
on every container start and must not import click or pluggy. The hooks are in
:mod:`leger_plugin_envfile.plugin` (the entry point).
"""
