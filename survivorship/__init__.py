"""Survivorship: the Django project and the care domain (patients, teams, roles)."""

from .celery import app as celery_app

__all__ = ("celery_app",)
