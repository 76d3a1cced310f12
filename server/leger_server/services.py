"""The service layer every route module (API and web UI) uses: one object per app holding the
stores, blobs, token service and identity verifier. Routes get it with :func:`services`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from starlette.requests import Request

from leger_server.blobs import BlobStore, open_blob_store
from leger_server.crypto import SecretCipher
from leger_server.db import make_engine
from leger_server.deployment_store import DeploymentStore
from leger_server.identity import IdentityVerifier, make_verifier
from leger_server.login_codes import LoginCodes
from leger_server.ratelimit import RateLimiter
from leger_server.release_store import ReleaseStore
from leger_server.revocations import TokenRevocations
from leger_server.secret_store import SecretStore
from leger_server.settings import Settings
from leger_server.tokens import TokenService
from leger_server.users import UserStore


@dataclass
class Services:
    settings: Settings
    engine: Engine
    users: UserStore
    secrets: SecretStore
    releases: ReleaseStore
    deployments: DeploymentStore
    blobs: BlobStore
    tokens: TokenService
    revocations: TokenRevocations
    login_codes: LoginCodes
    verifier: IdentityVerifier
    auth_limiter: RateLimiter

    def __repr__(self) -> str:
        return f"Services({self.settings!r})"

    @classmethod
    def build(cls, settings: Settings) -> Services:
        engine = make_engine(settings.database_url)
        cipher = SecretCipher(settings.keys)
        blobs = open_blob_store(settings.blobs_url)
        users = UserStore(engine)
        return cls(
            settings=settings,
            engine=engine,
            users=users,
            secrets=SecretStore(engine, cipher, max_value=settings.max_secret_value),
            releases=ReleaseStore(engine, blobs, settings),
            deployments=DeploymentStore(engine),
            blobs=blobs,
            tokens=TokenService(settings.keys.jwt_secret, days=settings.token_days),
            revocations=TokenRevocations(engine),
            login_codes=LoginCodes(engine),
            verifier=make_verifier(settings, users),
            auth_limiter=RateLimiter(engine, settings.auth_rate_limit, settings.auth_rate_window),
        )


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc
