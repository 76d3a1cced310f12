"""The JSON API: one module per resource, each exporting ``routes`` (a list of Starlette
routes). :mod:`leger_server.app` joins them into one table."""
