from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "tenure.customers"
    label = "customers"

    def ready(self) -> None:
        from tenure.core.sweeper import register_sweeper
        from tenure.customers.services import mark_lapsed_customers

        register_sweeper("customers.lapse", mark_lapsed_customers)
