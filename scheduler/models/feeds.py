"""Secret feed tokens for iCalendar subscriptions. Only a hash of a token is stored."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from survivorship.models import Patient

TOKEN_BYTES = 32  # 256 bits from the OS CSPRNG


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


class FeedToken(models.Model):
    """A revocable, scoped secret that lets a calendar app read one feed."""

    class Scope(models.TextChoices):
        PATIENT = "patient", _("Patient's own calendar")
        SHARE = "share", _("Shared with a family member")
        NURSE = "nurse", _("Nurse caseload")

    scope = models.CharField(max_length=10, choices=Scope.choices)
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.CASCADE, related_name="feed_tokens"
    )
    nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="feed_tokens"
    )
    label = models.CharField(_("label"), max_length=100, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_user_agent = models.CharField(max_length=300, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="nurse") & Q(nurse__isnull=False) & Q(patient__isnull=True))
                | (Q(scope__in=["patient", "share"]) & Q(patient__isnull=False) & Q(nurse__isnull=True)),
                name="feedtoken_scope_owner",
            ),
        ]

    def __str__(self) -> str:
        owner = self.patient or self.nurse
        return f"{self.get_scope_display()} feed of {owner} ({'revoked' if self.revoked_at else 'active'})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class FeedState(models.Model):
    """What a feed looked like when it was last rendered.

    Keeps ``Last-Modified`` monotonic (it moves forward whenever the bytes change, even
    when an event drops out of the feed) and lets a conditional request be answered
    with 304 without rendering when the rendered bytes have left the cache."""

    feed_key = models.CharField(max_length=40, unique=True, help_text=_("Scope and owner, e.g. patient:12."))
    marker = models.CharField(max_length=64, help_text=_("Digest of what the feed was rendered from."))
    etag = models.CharField(max_length=64, help_text=_("Digest of the rendered bytes."))
    last_modified = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.feed_key} last changed {self.last_modified:%Y-%m-%d %H:%M:%S}"


class FeedRequestCount(models.Model):
    """Requests for one feed link (known or not) in one rate-limit window, when the cache
    is not Redis (the embedded default): every request adds one with an atomic upsert,
    so the count is exact across workers and restarts, and no cache eviction (a file
    cache culls a third of its entries when full) can reset it. Rows of past windows are
    deleted as new windows start."""

    link = models.CharField(max_length=32, help_text=_("Start of the SHA-256 of the token as requested."))
    slot = models.BigIntegerField(help_text=_("The window: Unix time divided by FEED_RATE_WINDOW."))
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "slot"], name="feedrequestcount_link_slot")]
        indexes = [models.Index(fields=["slot"], name="feedrequestcount_slot")]

    def __str__(self) -> str:
        return f"{self.link}… window {self.slot}: {self.count}"
