from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tenure.core"
    label = "core"
    verbose_name = "Tenure core"

    def ready(self) -> None:
        from django.core import checks
        from django.db.models.signals import post_migrate

        import tenure.core.lookups  # noqa: F401  (registers `__any_of`)
        from tenure.core.outbox.checks import check_connections, check_sending_timeout
        from tenure.core.outbox.delivery import register as register_outbox
        from tenure.core.roles import ensure_roles

        post_migrate.connect(ensure_roles, dispatch_uid="tenure.core.ensure_roles")
        register_outbox()
        checks.register(check_sending_timeout)
        checks.register(check_connections)
