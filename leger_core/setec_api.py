"""tailscale/setec's wire names (endpoints, headers, JSON keys) in one place, for legerd (the
server), the setec client and the init-script renderer, so the three cannot drift apart.

No imports at all: the setec client reads it on every container start.
"""

from __future__ import annotations

API_PREFIX = "/api/"  # every call is POST API_PREFIX + method
HEALTH_PATH = "/health"  # legerd's own GET, not setec's

# The methods, as in API_PREFIX + method.
LIST = "list"
GET = "get"
INFO = "info"
PUT = "put"
CREATE_VERSION = "create-version"
ACTIVATE = "activate"
DELETE = "delete"
DELETE_VERSION = "delete-version"
METHODS = (LIST, GET, INFO, PUT, CREATE_VERSION, ACTIVATE, DELETE, DELETE_VERSION)

CONTENT_TYPE = "application/json"
# Browsers cannot set Sec-* headers, so no web page can drive the API.
NO_BROWSERS_HEADER = "Sec-X-Tailscale-No-Browsers"
NO_BROWSERS_VALUE = "setec"

# JSON keys, as Go's encoding/json writes setec's structs (it reads them case-insensitively).
NAME = "Name"
VERSION = "Version"
VALUE = "Value"
VERSIONS = "Versions"
ACTIVE_VERSION = "ActiveVersion"


def path(method: str) -> str:
    return API_PREFIX + method
