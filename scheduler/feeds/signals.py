"""Deactivating an account ends its calendar links at once.

Accounts are deactivated in several places (the admin's user form and actions, the
``is_active`` flag set by any code), so the rule hangs on the save of the user rather
than on one of them; the work itself is ``scheduler.feeds.tokens.tokens_end_for_user``."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from survivorship.models import User

from .tokens import tokens_end_for_user


@receiver(post_save, sender=User, dispatch_uid="feeds_end_links_of_inactive_user")
def end_links_of_inactive_user(sender, instance: User, **kwargs) -> None:
    if not instance.is_active:
        tokens_end_for_user(instance)
