"""Feed tokens: issue, look up, revoke, rotate. The raw token is shown once and never
stored or logged; the database keeps its SHA-256 hash."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from scheduler.models.feeds import FeedToken, hash_token, new_token
from survivorship.models import Patient, User

from .service import heads_forget


def token_issue(
    *, scope: str, patient: Patient | None = None, nurse: User | None = None, label: str = "",
    actor: User | None = None,
) -> tuple[FeedToken, str]:  # fmt: skip
    """Create a token; returns the row and the raw secret (shown to the owner once)."""
    raw = new_token()
    token = FeedToken(
        scope=scope, patient=patient, nurse=nurse, label=label.strip()[:100], token_hash=hash_token(raw),
        created_by=actor,
    )  # fmt: skip
    token.full_clean()
    token.save()
    return token, raw


def token_lookup(raw: str) -> FeedToken | None:
    """The active token for a raw secret, or None (unknown and revoked look the same).

    The lookup is by hash (an index probe), then the stored hash is compared again in
    constant time so no timing difference depends on how much of it matched."""
    if not raw or len(raw) > 200:
        return None
    digest = hash_token(raw)
    token = (
        FeedToken.objects.select_related("patient", "patient__preferences", "nurse")
        .filter(token_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    return token


def token_revoke(*, token: FeedToken) -> None:
    """Revoke a link; it answers 404 from the next request (its cached head is dropped)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    heads_forget([token.token_hash])


def token_rotate(*, patient: Patient, actor: User | None = None) -> tuple[FeedToken, str]:
    """Revoke the patient's own feed token(s) at once and issue a new one."""
    with transaction.atomic():
        active = FeedToken.objects.filter(
            patient=patient, scope=FeedToken.Scope.PATIENT, revoked_at__isnull=True
        )
        retired = list(active.values_list("token_hash", flat=True))
        active.update(revoked_at=timezone.now())
        issued = token_issue(scope=FeedToken.Scope.PATIENT, patient=patient, actor=actor)
    heads_forget(retired)
    return issued


def feed_url(raw: str) -> str:
    return settings.SITE_URL + reverse("feeds:feed", args=[raw])


def webcal_url(raw: str) -> str:
    return "webcal://" + feed_url(raw).split("://", 1)[1]


# --- any link, and the nurse's caseload links ---------------------------------------------------


def token_rename(*, token: FeedToken, label: str) -> FeedToken:
    """Give a link a name its owner recognises it by (e.g. "Work phone")."""
    token.label = label.strip()[:100]
    token.full_clean()
    token.save(update_fields=["label"])
    return token


def token_replace(*, token: FeedToken, actor: User | None = None) -> tuple[FeedToken, str]:
    """Rotate one link: it stops working at once and a new one with the same owner, scope
    and name takes its place (the raw secret is returned once)."""
    with transaction.atomic():
        current = FeedToken.objects.select_for_update().get(pk=token.pk)
        if current.revoked_at is None:
            current.revoked_at = timezone.now()
            current.save(update_fields=["revoked_at"])
        issued = token_issue(
            scope=current.scope, patient=current.patient, nurse=current.nurse, label=current.label,
            actor=actor,
        )  # fmt: skip
    heads_forget([current.token_hash])
    return issued


def tokens_revoke(*, tokens) -> int:
    """Revoke several links at once (admin action, command, account deactivation)."""
    with transaction.atomic():
        active = FeedToken.objects.filter(pk__in=[t.pk for t in tokens], revoked_at__isnull=True)
        hashes = list(active.values_list("token_hash", flat=True))
        active.update(revoked_at=timezone.now())
    heads_forget(hashes)
    return len(hashes)


def tokens_end_for_user(user: User) -> int:
    """A deactivated account's links stop at once: a nurse's caseload links, and a
    patient's own and family links."""
    return tokens_revoke(
        tokens=FeedToken.objects.filter(Q(nurse=user) | Q(patient__user=user), revoked_at__isnull=True).only(
            "pk"
        )
    )


def nurse_tokens(nurse: User):
    """A nurse's caseload links, newest first (revoked ones too, for the record)."""
    return FeedToken.objects.filter(nurse=nurse, scope=FeedToken.Scope.NURSE).order_by("-created_at", "-pk")
