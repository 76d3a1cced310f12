"""The OpenAPI 3.0 document served at ``/openapi.json``, written as data next to the API."""

from __future__ import annotations

from functools import cache
from typing import Any

from leger_server import __version__


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"type": "boolean", "enum": [True]}, "data": data},
    }


def _ok(description: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    schema = _envelope(data or {"type": "object"})
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = {"$ref": "#/components/responses/Error"}
AUTH_ERRORS = {"401": ERROR, "404": ERROR, "400": ERROR}
NAME_PARAM = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,128}$"},
}
REF_PARAM = {
    "name": "ref",
    "in": "path",
    "required": True,
    "description": "A release id (UUID), a bundle version number, or 'latest'.",
    "schema": {"type": "string"},
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


@cache
def openapi_document() -> dict[str, Any]:
    user = {"$ref": "#/components/schemas/User"}
    secret_meta = {"$ref": "#/components/schemas/SecretMeta"}
    release = {"$ref": "#/components/schemas/Release"}
    git_release = {
        "type": "object",
        "required": ["name", "git_url"],
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,128}$"},
            "git_url": {"type": "string", "maxLength": 2048},
            "git_branch": {"type": "string", "maxLength": 255},
            "description": {"type": "string", "maxLength": 1024},
        },
    }
    deployment = {"$ref": "#/components/schemas/Deployment"}
    deployment_report = {
        "type": "object",
        "required": ["name", "event", "version", "source_kind", "source"],
        "description": "What a device reports of one of its deployments. The device is the "
        "token's (its login's), never a field here.",
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"},
            "event": {
                "type": "string",
                "enum": ["install", "update", "rollback", "remove", "check"],
            },
            "release_name": {
                "type": "string",
                "nullable": True,
                "pattern": "^[A-Za-z0-9_.-]{1,128}$",
            },
            "version": {"type": "string", "maxLength": 128},
            "source_kind": {"type": "string", "enum": ["git", "bundle", "manifest"]},
            "source": {
                "type": "string",
                "maxLength": 2048,
                "description": "A URL; a local path or file: URL is stored as 'local git "
                "repository' (or 'local bundle/manifest source').",
            },
            "units": {
                "type": "object",
                "description": "systemd unit name to its state (active, failed, ...)",
                "additionalProperties": {"type": "string"},
            },
        },
    }
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.0.3",
        "info": {"title": "leger-server", "version": __version__},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "An error envelope",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["success", "error"],
                                "properties": {
                                    "success": {"type": "boolean", "enum": [False]},
                                    "error": {
                                        "type": "object",
                                        "required": ["code", "message"],
                                        "properties": {
                                            "code": {"type": "string"},
                                            "message": {"type": "string"},
                                            "action": {"type": "string"},
                                        },
                                    },
                                },
                            }
                        }
                    },
                }
            },
            "schemas": {
                "User": {
                    "type": "object",
                    "properties": {
                        "user_uuid": {"type": "string", "format": "uuid"},
                        "email": {"type": "string"},
                        "display_name": {"type": "string", "nullable": True},
                        "tailnet": {"type": "string"},
                    },
                },
                "SecretMeta": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "version": {"type": "integer"},
                        "created_at": {"type": "string"},
                        "updated_at": {"type": "string"},
                        "value": {"type": "string"},
                    },
                },
                "Deployment": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "device_id": {"type": "string"},
                        "hostname": {"type": "string"},
                        "name": {"type": "string"},
                        "event": {"type": "string"},
                        "release_name": {"type": "string", "nullable": True},
                        "version": {"type": "string"},
                        "source_kind": {"type": "string"},
                        "source": {"type": "string"},
                        "units": {"type": "object", "additionalProperties": {"type": "string"}},
                        "units_not_active": {"type": "array", "items": {"type": "string"}},
                        "created_at": {"type": "string"},
                        "updated_at": {"type": "string", "description": "last report"},
                    },
                },
                "Release": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "kind": {"type": "string", "enum": ["git", "bundle"]},
                        "name": {"type": "string"},
                        "version": {"type": "integer"},
                    },
                },
            },
        },
        "paths": {
            "/health": {"get": {"responses": {"200": {"description": "healthy"}}}},
            "/api/auth/cli": {
                "post": {
                    "summary": "Log in: the identity comes from the connection (tailscaled's "
                    "WhoIs, or tailscale serve's headers); identity fields in the body must "
                    "agree with it (403 identity_mismatch). Only --identity dev requires and "
                    "believes them.",
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["device_id", "user_id", "email", "tailnet"],
                            "properties": {
                                "device_id": {"type": "string", "maxLength": 128},
                                "user_id": {"type": "string", "maxLength": 128},
                                "email": {"type": "string", "maxLength": 320},
                                "tailnet": {"type": "string", "maxLength": 255},
                                "hostname": {"type": "string", "maxLength": 255},
                                "cli_version": {"type": "string", "maxLength": 64},
                            },
                        }
                    ),
                    "responses": {
                        "200": _ok(
                            "token and user",
                            {
                                "type": "object",
                                "properties": {"token": {"type": "string"}, "user": user},
                            },
                        ),
                        "400": ERROR,
                        "401": ERROR,
                        "403": ERROR,
                        "429": ERROR,
                        "503": ERROR,
                    },
                }
            },
            "/api/auth/login-code": {
                "post": {
                    "summary": "A one-time code (60 s, single use) that logs a browser in to "
                    "this token's account at /login/code",
                    "security": secured,
                    "responses": {
                        "200": _ok(
                            "the code",
                            {
                                "type": "object",
                                "properties": {
                                    "code": {"type": "string"},
                                    "path": {"type": "string"},
                                    "expires_in": {"type": "integer"},
                                },
                            },
                        ),
                        "401": ERROR,
                        "403": ERROR,
                    },
                }
            },
            "/api/auth/logout-all": {
                "post": {
                    "summary": "Log out every token of the account, this one included",
                    "security": secured,
                    "responses": {"200": _ok("logged out everywhere"), "401": ERROR},
                }
            },
            "/api/auth/validate": {
                "post": {
                    "security": secured,
                    "responses": {"200": _ok("the token's user"), "401": ERROR, "429": ERROR},
                }
            },
            "/api/auth/logout": {
                "post": {
                    "summary": "Log out this token (the account's other tokens stay valid)",
                    "security": secured,
                    "responses": {"200": _ok("logged out"), "401": ERROR},
                }
            },
            "/api/me": {
                "get": {"security": secured, "responses": {"200": _ok("me", user), "401": ERROR}},
                "patch": {
                    "security": secured,
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "properties": {
                                "display_name": {
                                    "type": "string",
                                    "maxLength": 32,
                                    "nullable": True,
                                }
                            },
                        }
                    ),
                    "responses": {"200": _ok("me", user), **AUTH_ERRORS},
                },
            },
            "/api/secrets": {
                "get": {
                    "security": secured,
                    "parameters": [
                        {
                            "name": "include_values",
                            "in": "query",
                            "schema": {"type": "boolean"},
                        }
                    ],
                    "responses": {
                        "200": _ok(
                            "secrets",
                            {
                                "type": "object",
                                "properties": {"secrets": {"type": "array", "items": secret_meta}},
                            },
                        ),
                        **AUTH_ERRORS,
                    },
                }
            },
            "/api/secrets/{name}": {
                "parameters": [NAME_PARAM],
                "get": {"security": secured, "responses": {"200": _ok("value"), **AUTH_ERRORS}},
                "post": {
                    "security": secured,
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["value"],
                            "properties": {"value": {"type": "string", "maxLength": 65536}},
                        }
                    ),
                    "responses": {
                        "200": _ok("stored"),
                        "201": _ok("created"),
                        "413": ERROR,
                        **AUTH_ERRORS,
                    },
                },
                "delete": {
                    "security": secured,
                    "responses": {"200": _ok("deleted"), **AUTH_ERRORS},
                },
            },
            "/api/releases": {
                "get": {
                    "security": secured,
                    "parameters": [{"name": "name", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": _ok("releases"), **AUTH_ERRORS},
                },
                "post": {
                    "security": secured,
                    "summary": "JSON: create a git release; application/gzip: upload a bundle",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": git_release},
                            "application/gzip": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "responses": {
                        "201": _ok("created", release),
                        "409": ERROR,
                        "413": ERROR,
                        "415": ERROR,
                        **AUTH_ERRORS,
                    },
                },
            },
            "/api/releases/latest": {
                "get": {
                    "security": secured,
                    "responses": {"200": _ok("the latest bundle", release), **AUTH_ERRORS},
                }
            },
            "/api/releases/{ref}": {
                "parameters": [REF_PARAM],
                "get": {"security": secured, "responses": {"200": _ok("release"), **AUTH_ERRORS}},
                "put": {
                    "security": secured,
                    "requestBody": _json_body(
                        {"type": "object", "properties": git_release["properties"]}
                    ),
                    "responses": {"200": _ok("updated"), "409": ERROR, **AUTH_ERRORS},
                },
                "delete": {
                    "security": secured,
                    "responses": {"200": _ok("deleted"), **AUTH_ERRORS},
                },
            },
            "/api/deployments": {
                "get": {
                    "security": secured,
                    "summary": "The account's deployments on every device (what runs where)",
                    "parameters": [
                        {"name": "release", "in": "query", "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _ok(
                            "deployments",
                            {
                                "type": "object",
                                "properties": {
                                    "deployments": {"type": "array", "items": deployment}
                                },
                            },
                        ),
                        **AUTH_ERRORS,
                    },
                },
                "post": {
                    "security": secured,
                    "summary": "Report a deployment of the token's device (upsert by device and "
                    "name); the bearer header only, the session cookie cannot write",
                    "requestBody": _json_body(deployment_report),
                    "responses": {
                        "200": _ok("the recorded deployment", deployment),
                        "403": ERROR,
                        "413": ERROR,
                        "415": ERROR,
                        **AUTH_ERRORS,
                    },
                },
            },
            "/api/releases/{ref}/download": {
                "parameters": [REF_PARAM],
                "get": {
                    "security": secured,
                    "responses": {
                        "200": {
                            "description": "the bundle",
                            "content": {"application/gzip": {}},
                        },
                        **AUTH_ERRORS,
                    },
                },
            },
        },
    }
