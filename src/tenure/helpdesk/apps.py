from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "tenure.helpdesk"
    label = "helpdesk"
    verbose_name = "Help desk"

    def ready(self) -> None:
        from tenure.core.sweeper import register_sweeper
        from tenure.helpdesk import ack, assignment, callbacks, sla
        from tenure.helpdesk.survey_answers import reopen_after_unhappy_answer
        from tenure.surveys.hooks import on_unhappy

        register_sweeper("helpdesk.ack", ack.sweep)
        register_sweeper("helpdesk.sla", sla.sweep)
        register_sweeper("helpdesk.assign", assignment.sweep)
        register_sweeper("helpdesk.callbacks", callbacks.sweep)
        on_unhappy("request", reopen_after_unhappy_answer)
