from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from tenure.api import api

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="customers:list", permanent=False)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("customers/", include("tenure.customers.urls")),
    path("insights/", include("tenure.insights.urls")),
    path("inbox/", include("tenure.inbox.urls")),
    path("helpdesk/", include("tenure.helpdesk.urls")),
    path("console/", include("tenure.helpdesk.console.urls")),
    path("journeys/", include("tenure.journeys.urls")),
    path("field/", include("tenure.field.urls")),
    path("surveys/", include("tenure.surveys.urls")),
    path("outbox/", include("tenure.core.outbox.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
