from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "tenure.journeys"
    label = "journeys"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate, post_save

        from tenure.core.drain import register_batch
        from tenure.core.models import Event
        from tenure.core.sweeper import register_sweeper
        from tenure.journeys.builtins import seed_builtins
        from tenure.journeys.models import Journey
        from tenure.journeys.runner import next_due, run_due, run_next_batch
        from tenure.journeys.triggers import forget_index, on_event_saved

        register_sweeper("journeys.steps", run_due)
        register_batch("journeys.steps", run_next_batch, next_due)
        post_save.connect(on_event_saved, sender=Event, dispatch_uid="tenure.journeys.on_event")
        post_save.connect(forget_index, sender=Journey, dispatch_uid="tenure.journeys.forget_on_save")
        post_delete.connect(forget_index, sender=Journey, dispatch_uid="tenure.journeys.forget_on_delete")
        post_migrate.connect(seed_builtins, sender=self, dispatch_uid="tenure.journeys.seed")
