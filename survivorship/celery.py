"""The Celery application, configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from survivorship import logging as redaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "survivorship.settings")

app = Celery("survivorship")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each feature keeps its tasks in its own ``tasks`` module.
app.autodiscover_tasks(
    [
        "survivorship",
        "scheduler.plans",
        "scheduler.reminders",
        "scheduler.nurse",
        "scheduler.careplan",
        "scheduler.interop",
    ]
)

# Every record a worker creates is redacted (the app's ready() installs the factory; this
# covers a worker that logs before Django is set up).
redaction.install()


@after_setup_logger.connect
def _redact_worker_logs(logger, **kwargs):
    """A worker replaces the root logger's handlers with its own (worker_hijack_root_logger):
    give those the redaction filter too."""
    redaction.add_filter_to_handlers(logger)


@after_setup_task_logger.connect
def _redact_task_logs(logger, **kwargs):
    redaction.add_filter_to_handlers(logger)
