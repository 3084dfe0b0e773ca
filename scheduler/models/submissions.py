"""Form submissions already handled: a repeated post of the same form (a double click, the
back button, a network retry) is answered with the first one's result instead of being
done again (see ``scheduler.submissions``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Submission(models.Model):
    """One handled form submission: the random key its form carried and where its
    successful answer redirected to. Kept for a day (``SUBMISSION_KEEP``)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    path = models.CharField(max_length=300)
    result_url = models.CharField(max_length=1000)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="submission_user_key_unique")]
        indexes = [models.Index(fields=["user", "created_at"], name="submission_user_created")]

    def __str__(self) -> str:
        return f"{self.path} -> {self.result_url}"
