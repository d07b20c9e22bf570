from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "tenure.journeys"
    label = "journeys"

    def ready(self) -> None:
        from tenure.core.sweeper import register_sweeper
        from tenure.journeys.runner import run_due

        register_sweeper("journeys.steps", run_due)
