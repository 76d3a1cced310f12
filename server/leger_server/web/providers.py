"""The provider sections of the API keys page: which secret names each one saves.

The names are the ones quadlets ask for (``Secret=openai_api_key,type=env,…``) and that
``leger secrets sync`` copies to legerd, so they are part of the contract with deployments.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyField:
    name: str  # the secret's name in the account
    label: str
    hint: str
    optional: bool = False


@dataclass(frozen=True)
class Provider:
    slug: str
    title: str
    description: str
    fields: tuple[KeyField, ...]


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "openai",
        "OpenAI",
        "Configure OpenAI API access.",
        (
            KeyField("openai_api_key", "API key", "Starts with sk-."),
            KeyField(
                "openai_org_id",
                "Organization ID",
                "Optional; only if your key belongs to several organizations.",
                optional=True,
            ),
        ),
    ),
    Provider(
        "anthropic",
        "Anthropic",
        "Configure Anthropic API access.",
        (KeyField("anthropic_api_key", "API key", "Starts with sk-ant-."),),
    ),
    Provider(
        "google",
        "Google AI",
        "Configure Google AI (Gemini) API access.",
        (KeyField("google_api_key", "API key", "From Google AI Studio."),),
    ),
    Provider(
        "groq",
        "Groq",
        "Configure Groq API access.",
        (KeyField("groq_api_key", "API key", "Starts with gsk_."),),
    ),
)

BY_SLUG = {p.slug: p for p in PROVIDERS}
PROVIDER_KEY_NAMES = frozenset(f.name for p in PROVIDERS for f in p.fields)
