from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "tenure.helpdesk"
    label = "helpdesk"
    verbose_name = "Help desk"
