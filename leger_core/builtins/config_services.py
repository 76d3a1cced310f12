"""Services' secrets from config: ``[services.NAME] secrets = [...]`` and ``[services.NAME.env]``.

[services.openwebui]
secrets = ["openai_api_key"]          # legerd name <prefix>openai_api_key, env OPENAI_API_KEY
# secrets = ["pass:openai_api_key"]   # the pass backend's openai_api_key, env OPENAI_API_KEY
[services.openwebui.env]
ANTHROPIC_API_KEY = "team/anthropic"  # env var = legerd secret name, used verbatim
"""

from __future__ import annotations

from leger_core import hookimpl
from leger_core.backends import check_reference
from leger_core.config import Config
from leger_core.errors import ConfigError, InvalidInputError
from leger_core.models import ServiceSecret
from leger_core.names import ENV_NAME, check_service
from leger_core.paths import secret_prefix


@hookimpl(trylast=True)
def leger_service_names(config: Config) -> list[str]:
    return sorted(config.section("services"))


@hookimpl(tryfirst=True)
def leger_service_secrets(service: str, config: Config) -> list[ServiceSecret] | None:
    services = config.section("services")
    table = services.get(service)
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"[services.{service}] in {config.path} must be a table")
    try:
        check_service(service)
    except InvalidInputError as exc:
        raise ConfigError(f"[services.{service}] in {config.path}: {exc.message}") from None
    prefix = secret_prefix(config)
    result: list[ServiceSecret] = []
    names = table.get("secrets", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"services.{service}.secrets in {config.path} must be a list of names")
    for entry in names:
        # "pass:openai_api_key" names its backend: the env var comes from the name after it,
        # and the account prefix (where sync puts the account's secrets) is not added.
        backend, name = _reference(entry, None, f"services.{service}.secrets", config)
        env = name.upper().replace("-", "_").replace(".", "_")
        if not ENV_NAME.fullmatch(env):
            raise ConfigError(f"services.{service}.secrets: {entry!r} is not a usable env name")
        secret = entry if backend else prefix + name
        result.append(ServiceSecret(env=env, secret=secret, source="config"))
    env_table = table.get("env", {})
    if not isinstance(env_table, dict):
        raise ConfigError(f"[services.{service}.env] in {config.path} must be a table")
    for env, secret in env_table.items():
        if not ENV_NAME.fullmatch(env) or not isinstance(secret, str) or not secret:
            raise ConfigError(
                f"services.{service}.env.{env} in {config.path}: "
                "keys are env var names, values are secret names"
            )
        _reference(secret, env, f"services.{service}.env", config)
        result.append(ServiceSecret(env=env, secret=secret, source="config"))
    return result


def _reference(text: str, env: str | None, where: str, config: Config) -> tuple[str | None, str]:
    try:
        return check_reference(text, env)
    except InvalidInputError as exc:
        raise ConfigError(f"{where} in {config.path}: {exc.message}") from None
