from leger_core.cli import entrypoint

entrypoint()
