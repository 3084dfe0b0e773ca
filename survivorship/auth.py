"""Authentication: patients sign in with their email address, staff with a username."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Q


class EmailOrUsernameBackend(ModelBackend):
    """Accepts either the username or the (case-insensitive) email address."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if not username or password is None:
            return None
        user_model = get_user_model()
        identifier = username.strip()
        candidates = list(
            user_model._default_manager.filter(Q(username=identifier) | Q(email__iexact=identifier))[:2]
        )
        if len(candidates) != 1:
            # Unknown (or ambiguous) login: run the hasher anyway so timing does not tell.
            user_model().set_password(password)
            return None
        user = candidates[0]
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
