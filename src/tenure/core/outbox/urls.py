from django.urls import path

from tenure.core.outbox import views

app_name = "outbox"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("twilio/status/", views.twilio_status, name="twilio_status"),
]
