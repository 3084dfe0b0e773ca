from django.apps import AppConfig

from scheduler.rules import default_library


class SchedulerConfig(AppConfig):
    name = "scheduler"
    verbose_name = "Follow-up schedule"

    def ready(self) -> None:
        # Connects the receivers (deactivating a user ends their calendar links).
        from scheduler.feeds import signals  # noqa: F401, PLC0415 - app registry ready only here

        # Imported here: models cannot be imported before the app registry is ready.
        from survivorship.models import CANCER_TYPE_NAMES  # noqa: PLC0415

        # The care domain names cancer types without importing the schedule.
        CANCER_TYPE_NAMES.update(default_library().choices())
