from typing import Any

from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "tenure.surveys"
    label = "surveys"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from tenure.core.models import Event
        from tenure.core.sweeper import register_sweeper
        from tenure.surveys.services import send_due

        post_save.connect(_on_event, sender=Event, dispatch_uid="tenure.surveys.on_event")
        register_sweeper("surveys.send", send_due)


def _on_event(sender: type, instance: Any, created: bool, raw: bool = False, **_: Any) -> None:
    # Runs inside the transaction that wrote the event, so the survey exists exactly when the event does.
    if created and not raw:
        from tenure.surveys.services import schedule_for_event

        schedule_for_event(instance)
