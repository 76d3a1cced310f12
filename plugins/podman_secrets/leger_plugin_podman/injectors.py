"""The ``podman`` and ``driver`` injectors: one podman secret per (service, env var).

``podman``: the value is stored by podman's file driver (podman's storage directory, 0600 files
readable by the user and root).
``driver``: the secret uses podman's shell driver pointed at ``leger driver``; podman keeps
nothing but a handle and the value lives in legerd. Created with a reference (``leger:NAME``,
:meth:`DriverInjector.inject_refs`) every container start reads NAME's current value.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leger_core.backends import check_reference
from leger_core.errors import ConflictError, InvalidInputError, LegerError
from leger_core.models import InjectResult, SecretValue
from leger_core.names import ENV_NAME, check_podman_secret_name, check_service
from leger_core.paths import leger_executable
from leger_plugin_podman.driver import REFERENCE
from leger_plugin_podman.store import (
    LABEL_DIGEST,
    LABEL_ENV,
    LABEL_REF,
    LABEL_SERVICE,
    PodmanSecretStore,
    digest,
    podman_url,
)


def podman_secret_name(service: str, env: str, names: Mapping[str, str] | None = None) -> str:
    """The name a release's quadlet gives it (``Secret=openai_api_key,…``: ``names`` maps env
    var → that name), else ``openwebui`` + ``OPENAI_API_KEY`` → ``openwebui_openai_api_key``."""
    if names and env in names:
        return names[env]
    return f"{service}_{env.lower()}"


def checked_podman_names(
    service: str, envs: list[str], names: Mapping[str, str] | None = None
) -> dict[str, str]:
    """env var → its podman secret name, every one checked against podman's rule before
    podman is asked anything: a derived name podman would refuse (service ``web@1``) is an
    error that says how to name it instead."""
    out: dict[str, str] = {}
    for env in envs:
        name = podman_secret_name(service, env, names)
        if names and env in names:
            what = f" (Secret= of {service}'s release, for {env})"
            hint = "rename it in the release's quadlet"
        else:
            what = f" (made from service {service!r} and {env})"
            hint = (
                f"name it in the release's quadlet (Secret=NAME,type=env,target={env}), "
                "or give the service a name that fits"
            )
        out[env] = check_podman_secret_name(name, what, hint)
    return out


def release_names(leger: Any, service: str) -> dict[str, str]:
    """env var → the podman secret name the installed release's quadlets use for it."""
    if leger is None:
        return {}
    try:
        wanted = leger.service_secrets(service)
    except LegerError:
        return {}
    return {s.env: s.podman_name for s in wanted if getattr(s, "podman_name", None)}


def quadlet_lines(service: str, envs: list[str], names: Mapping[str, str] | None = None) -> str:
    return "".join(
        f"Secret={podman_secret_name(service, env, names)},type=env,target={env}\n" for env in envs
    )


# What tells the driver's commands where things are, written into them when set now.
PINNED_ENV = ("LEGERD_SOCKET", "LEGER_CONFIG", "PASSWORD_STORE_DIR", "GNUPGHOME")


def driver_options(
    environ: Mapping[str, str] | None = None, backend: str | None = None
) -> dict[str, str]:
    """The shell driver's four commands. Where legerd, the password store and the config
    are, when set now, is written into the commands: podman runs them with whatever environment
    its caller has (a systemd unit, the API service), which may not have these variables.
    ``backend`` names the secret backend that keeps the data (``--backend``)."""
    env = os.environ if environ is None else environ
    pinned = [f"{k}={shlex.quote(env[k])}" for k in PINNED_ENV if env.get(k)]
    prefix = " ".join(pinned) + " " if pinned else ""
    leger = shlex.quote(leger_executable())
    suffix = f" --backend {shlex.quote(backend)}" if backend else ""
    return {
        op: f"{prefix}{leger} driver {op}{suffix}" for op in ("list", "lookup", "store", "delete")
    }


@dataclass
class Plan:
    """What an inject will do, decided before anything changes."""

    create: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)


class PodmanInjector:
    name = "podman"

    def __init__(self, leger: Any = None, *, url: str | None = None) -> None:
        config = leger.config if leger is not None else None
        self.leger = leger
        self.url = url or podman_url(config)
        self._store: PodmanSecretStore | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @property
    def store(self) -> PodmanSecretStore:
        if self._store is None:
            self._store = PodmanSecretStore(self.url)
        return self._store

    # what differs between the podman and the driver injector
    def _create(
        self, name: str, data: bytes, labels: dict[str, str], replace: bool = False
    ) -> None:
        if replace:
            self.store.replace(name, data, labels)
        else:
            self.store.create(name, data, labels)

    def inject(self, service: str, secrets: Mapping[str, SecretValue]) -> InjectResult:
        checked = self._checked(service, secrets)
        items = {
            env: (v.reveal(), {LABEL_DIGEST: digest(v.reveal())}) for env, v in checked.items()
        }
        return self._apply(service, items)

    def create_named(self, service: str, env: str, name: str, value: SecretValue) -> None:
        """Create the podman secret ``name`` (a release's ``Secret=`` name) with ``value``,
        labelled as Leger's for ``service`` (what ``leger deploy install`` does)."""
        self._checked(service, {env: value})
        checked_podman_names(service, [env], {env: name})
        data = value.reveal()
        self._create(
            name, data, {LABEL_SERVICE: service, LABEL_ENV: env, LABEL_DIGEST: digest(data)}
        )

    def remove(self, service: str) -> None:
        check_service(service)
        names = [info["Spec"]["Name"] for info in self.store.labelled(LABEL_SERVICE, service)]
        for name in self._unused(names, service)[0]:
            self.store.remove(name)

    def users_of(self, names: Iterable[str], *, but: str | None = None) -> dict[str, list[str]]:
        """podman secret name → the services (other than ``but``) whose needs name it: a
        release's ``Secret=`` name, else ``<service>_<env>``. A secret's label records only
        the service it was made for, but a release may share one name between services
        (``postgres_password`` in litellm and postgres). Raises :class:`LegerError` when a
        service's needs cannot be read (then nobody can tell whether it uses one)."""
        wanted = set(names)
        users: dict[str, list[str]] = {}
        if self.leger is None or not wanted:
            return users
        for other in self.leger.service_names():
            if other == but:
                continue
            for item in self.leger.service_secrets(other):
                name = item.podman_name or podman_secret_name(other, item.env)
                if name in wanted and other not in users.setdefault(name, []):
                    users[name].append(other)
        return {name: found for name, found in users.items() if found}

    def _unused(self, names: list[str], service: str) -> tuple[list[str], list[str]]:
        """(``names`` no service but ``service`` names (see :meth:`users_of`), the others as
        ``name (named by a, b)``)."""
        if not names:
            return [], []
        used = self.users_of(names, but=service)
        kept = [f"{name} (named by {', '.join(used[name])})" for name in names if name in used]
        return [name for name in names if name not in used], kept

    def _checked(self, service: str, secrets: Mapping[str, Any]) -> Mapping[str, Any]:
        check_service(service)
        for env in secrets:
            if not ENV_NAME.fullmatch(env):
                raise InvalidInputError(f"{env!r} is not a valid environment variable name")
        return secrets

    def _apply(self, service: str, items: dict[str, tuple[bytes, dict[str, str]]]) -> InjectResult:
        names = release_names(self.leger, service)
        podman_names = checked_podman_names(service, list(items), names)
        existing = {i["Spec"]["Name"]: i for i in self.store.labelled(LABEL_SERVICE, service)}

        def name_of(env: str) -> str:
            return podman_names[env]

        plan = Plan()
        for env, (_, labels) in items.items():
            name = name_of(env)
            info = existing.get(name) or self.store.inspect(name)
            if info is None:
                plan.create.append(env)
                continue
            have = info["Spec"].get("Labels") or {}
            # A release's name may be shared by several of its services (Secret=postgres_password
            # in litellm and postgres): one Leger made for another service is the same secret.
            shared = env in names and LABEL_SERVICE in have
            if have.get(LABEL_SERVICE) != service and not shared:
                raise ConflictError(
                    f"podman secret {name!r} exists and was not made by Leger for {service!r}",
                    hint=f"remove it with `podman secret rm {name}` if it is not needed",
                )
            if self._driver_matches(info["Spec"]["Driver"]) and all(
                have.get(k) == v for k, v in labels.items()
            ):
                plan.unchanged.append(env)
            else:
                plan.replace.append(env)
        wanted = {name_of(env) for env in items}
        # made for this service and no longer named by it: gone, unless another service
        # names it (the label records only the first service of a shared name)
        plan.remove, kept = self._unused(sorted(n for n in existing if n not in wanted), service)
        for env in plan.create + plan.replace:
            data, labels = items[env]
            all_labels = {LABEL_SERVICE: service, LABEL_ENV: env, **labels}
            self._create(name_of(env), data, all_labels, replace=env in plan.replace)
        for name in plan.remove:
            self.store.remove(name)
        return InjectResult(
            service=service,
            strategy=self.name,
            location=self.url,
            names=sorted(items),
            changed=bool(plan.create or plan.replace or plan.remove),
            extra={
                "created": ",".join(plan.create),
                "replaced": ",".join(plan.replace),
                "unchanged": ",".join(plan.unchanged),
                "removed": ",".join(plan.remove),
                "kept": ", ".join(kept),
                "quadlet": quadlet_lines(service, sorted(items), names),
            },
        )

    def _driver_matches(self, driver: dict[str, Any]) -> bool:
        return bool(driver.get("Name") == "file")


class DriverInjector(PodmanInjector):
    name = "driver"

    def __init__(
        self, leger: Any = None, *, url: str | None = None, backend: str | None = None
    ) -> None:
        super().__init__(leger, url=url)
        self.options = driver_options(backend=backend)

    def _create(
        self, name: str, data: bytes, labels: dict[str, str], replace: bool = False
    ) -> None:
        how = self.store.replace if replace else self.store.create
        how(name, data, labels, driver="shell", driver_opts=self.options)

    def _driver_matches(self, driver: dict[str, Any]) -> bool:
        return bool(driver.get("Name") == "shell" and driver.get("Options") == self.options)

    def inject_refs(self, service: str, refs: Mapping[str, str]) -> InjectResult:
        """Podman secrets whose data is ``leger:[BACKEND:]NAME``: podman keeps only the
        reference and each container start reads NAME's current value from its backend.
        Unchanged references are left alone, so rotating a value needs no new podman secret."""
        for env, name in self._checked(service, refs).items():
            check_reference(name, env)
        items = {env: (REFERENCE + name.encode(), {LABEL_REF: name}) for env, name in refs.items()}
        return self._apply(service, items)

    def create_named_ref(self, service: str, env: str, name: str, ref: str) -> None:
        """Create the podman secret ``name`` as a reference to ``ref`` (``BACKEND:NAME``)."""
        self._checked(service, {env: ref})
        check_reference(ref, env)
        checked_podman_names(service, [env], {env: name})
        labels = {LABEL_SERVICE: service, LABEL_ENV: env, LABEL_REF: ref}
        self._create(name, REFERENCE + ref.encode(), labels)
