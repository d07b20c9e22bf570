from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "tenure.inbox"
    label = "inbox"
    verbose_name = "Inbox channels"
