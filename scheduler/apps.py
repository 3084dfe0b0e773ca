from django.apps import AppConfig

from scheduler.rules import default_library


class SchedulerConfig(AppConfig):
    name = "scheduler"
    verbose_name = "Follow-up schedule"

    def ready(self) -> None:
        # Imported here: models cannot be imported before the app registry is ready.
        from survivorship.models import CANCER_TYPE_NAMES  # noqa: PLC0415

        # The care domain names cancer types without importing the schedule.
        CANCER_TYPE_NAMES.update(default_library().choices())
