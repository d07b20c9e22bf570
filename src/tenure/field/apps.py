from django.apps import AppConfig


class FieldConfig(AppConfig):
    name = "tenure.field"
    label = "field"
    verbose_name = "Field service"
