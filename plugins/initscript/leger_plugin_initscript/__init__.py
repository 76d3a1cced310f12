"""Init-script delivery: a POSIX sh entrypoint wrapper that fetches a service's secrets from
legerd when its container starts. Hooks in :mod:`leger_plugin_initscript.plugin`."""
