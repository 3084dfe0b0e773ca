from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "scheduler"
    verbose_name = "Follow-up schedule"

    def ready(self) -> None:
        # Connects the receivers (deactivating a user ends their calendar links).
        from scheduler.feeds import signals  # noqa: F401, PLC0415 - app registry ready only here
