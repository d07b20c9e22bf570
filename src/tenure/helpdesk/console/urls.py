from django.urls import path

from tenure.helpdesk.console import views

app_name = "console"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("counts/", views.counts, name="counts"),
    path("chat-widget/", views.widget, name="widget"),
    path("requests/<int:request_id>/", views.conversation, name="conversation"),
    path("requests/<int:request_id>/thread/", views.thread, name="thread"),
    path("requests/<int:request_id>/reply/", views.reply, name="reply"),
    path("requests/<int:request_id>/note/", views.note, name="note"),
    path("requests/<int:request_id>/status/", views.status, name="status"),
    path("requests/<int:request_id>/assign/", views.assign, name="assign"),
    path("requests/<int:request_id>/call/", views.call, name="call"),
    path("requests/<int:request_id>/macro/", views.macro, name="macro"),
    path("requests/<int:request_id>/apply-macro/", views.apply_macro, name="apply_macro"),
]
