from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "tenure.insights"
    label = "insights"

    def ready(self) -> None:
        from tenure.core.sweeper import register_sweeper
        from tenure.insights.tasks import ensure_nightly_scoring

        register_sweeper("insights.nightly_scoring", ensure_nightly_scoring)
