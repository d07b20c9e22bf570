from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "tenure.journeys"
    label = "journeys"
