from django.urls import path

from tenure.inbox import views

app_name = "inbox"

urlpatterns = [
    path("form/", views.contact_form, name="form"),
    path("form/embed.js", views.embed_script, name="embed"),
    path("sms/twilio/", views.twilio_sms, name="twilio_sms"),
    path("webhook/<slug:source>/", views.webhook, name="webhook"),
]
