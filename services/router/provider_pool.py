"""Provider adapters per upstream, sharing one pooled HTTP session per router."""

from __future__ import annotations

from collections.abc import Mapping

from services.router.fleet import ModelProfile
from services.router.providers import make_provider
from services.router.providers.base import Provider
from services.router.providers.h1 import HttpPool
from services.router.providers.http import create_session


class ProviderPool:
    def __init__(self, environ: Mapping[str, str]) -> None:
        # Credentials are looked up by reference (an environment variable name).
        self._environ = dict(environ)
        self._session: HttpPool | None = None
        self._providers: dict[tuple[str, str, str], Provider] = {}

    def provider_for(self, profile: ModelProfile) -> Provider:
        key = (profile.provider_kind, profile.endpoint, profile.credential_env)
        provider = self._providers.get(key)
        if provider is None:
            if self._session is None:
                self._session = create_session()
            api_key = self._environ.get(profile.credential_env) if profile.credential_env else None
            provider = make_provider(
                profile.provider_kind, profile.endpoint, api_key=api_key, session=self._session
            )
            self._providers[key] = provider
        return provider

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
