from django.apps import AppConfig


class FieldConfig(AppConfig):
    name = "tenure.field"
    label = "field"
    verbose_name = "Field service"

    def ready(self) -> None:
        from tenure.core.sweeper import register_sweeper
        from tenure.field.learning import relearn_if_stale
        from tenure.field.live import sweep_due
        from tenure.field.revisit import on_unhappy_survey
        from tenure.surveys.hooks import on_unhappy

        register_sweeper("field.repredict", sweep_due)
        register_sweeper("field.learn", relearn_if_stale)
        on_unhappy("appointment", on_unhappy_survey)
