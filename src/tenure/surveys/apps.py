from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "tenure.surveys"
    label = "surveys"
