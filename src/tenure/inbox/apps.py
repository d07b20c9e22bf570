from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "tenure.inbox"
    label = "inbox"
    verbose_name = "Inbox channels"

    def ready(self) -> None:
        from tenure.inbox.mail.poll import register as register_imap_sweeper

        register_imap_sweeper()
