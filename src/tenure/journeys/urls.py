from django.urls import path

from tenure.journeys import views

app_name = "journeys"

urlpatterns = [
    path("", views.journey_list, name="list"),
    path("new/", views.journey_edit, name="create"),
    path("validate/", views.journey_validate, name="validate"),
    path("export.yaml", views.journeys_export, name="export"),
    path("import/", views.journeys_import, name="import"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/<int:task_id>/done/", views.task_done, name="task_done"),
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_edit, name="template_create"),
    path("templates/preview/", views.template_preview, name="template_preview"),
    path("templates/<slug:key>/<str:language>/", views.template_edit, name="template"),
    path(
        "templates/<slug:key>/<str:language>/test-send/", views.template_test_send, name="template_test_send"
    ),
    path("<slug:key>/", views.journey_detail, name="detail"),
    path("<slug:key>/edit/", views.journey_edit, name="edit"),
    path("<slug:key>/toggle/", views.journey_toggle, name="toggle"),
    path("<slug:key>/enroll/", views.journey_enroll, name="enroll"),
    path("<slug:key>/broadcast/", views.journey_broadcast, name="broadcast"),
]
