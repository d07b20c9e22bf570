from django.urls import path

from tenure.insights import views

app_name = "insights"
urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("at-risk/", views.at_risk_page, name="at_risk"),
    path("at-risk/<int:customer_id>/enroll/", views.enroll_page, name="enroll"),
    path("target/", views.set_target, name="set_target"),
]
