"""The Celery application, configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "survivorship.settings")

app = Celery("survivorship")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each feature keeps its tasks in its own ``tasks`` module.
app.autodiscover_tasks(["survivorship", "scheduler.plans", "scheduler.reminders", "scheduler.nurse"])
