from django.urls import path

from tenure.helpdesk import views

app_name = "helpdesk"

urlpatterns = [
    path("report/", views.report, name="report"),
]
