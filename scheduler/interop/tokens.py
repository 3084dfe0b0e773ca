"""API client tokens: created and revoked by an administrator, stored as a SHA-256 hash.
The raw token is shown once, when it is created, and never stored or logged."""

from __future__ import annotations

import hmac

from django.utils import timezone

from scheduler.models import ApiClient
from scheduler.models.feeds import hash_token, new_token
from survivorship.models import Organisation, User

TOKEN_PREFIX = "fhir_"  # noqa: S105 - not a secret: recognisable in a secret scanner, and in a log line that should not hold it


def api_client_create(
    *, organisation: Organisation, name: str, actor: User | None, rate_limit_per_minute: int = 120
) -> tuple[ApiClient, str]:
    """A new client of ``organisation``; returns it and its raw token (shown once)."""
    client = ApiClient(
        organisation=organisation,
        name=name.strip(),
        rate_limit_per_minute=rate_limit_per_minute,
        created_by=actor,
    )
    raw = api_client_save_new(client=client)
    return client, raw


def _assign(client: ApiClient) -> str:
    raw = TOKEN_PREFIX + new_token()
    client.token_hash = hash_token(raw)
    client.token_hint = raw[: len(TOKEN_PREFIX) + 3]
    return raw


def api_client_save_new(*, client: ApiClient) -> str:
    """Give an unsaved client (e.g. from the admin's form) its token and save it; returns
    the raw token, to be shown once."""
    raw = _assign(client)
    client.full_clean()
    client.save()
    return raw


def api_client_rotate(*, client: ApiClient) -> str:
    """A new token for the same client; the old one stops working at once."""
    raw = _assign(client)
    client.revoked_at = None
    client.save(update_fields=["token_hash", "token_hint", "revoked_at"])
    return raw


def api_client_revoke(*, client: ApiClient) -> None:
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])


def api_client_lookup(raw: str) -> ApiClient | None:
    """The active client for a raw token, or None (unknown and revoked look the same)."""
    if not raw or len(raw) > 200:
        return None
    digest = hash_token(raw)
    client = (
        ApiClient.objects.select_related("organisation")
        .filter(token_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if client is None or not hmac.compare_digest(client.token_hash, digest):
        return None
    return client
