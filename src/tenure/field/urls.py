from django.urls import path

from tenure.field import views_board, views_calendar, views_tech

app_name = "field"

urlpatterns = [
    path("board/", views_board.board, name="board"),
    path("board/replan/", views_board.board_replan, name="board_replan"),
    path("board/move/", views_board.board_move, name="board_move"),
    path("today/", views_tech.today, name="today"),
    path("today/<int:appointment_id>/<slug:action>/", views_tech.report, name="report"),
    path("visit/<str:token>/", views_calendar.visit, name="visit"),
    path("visit/<str:token>/invite.ics", views_calendar.visit_ics, name="visit_ics"),
    path("visit/<str:token>/reschedule/", views_calendar.visit_reschedule, name="visit_reschedule"),
    path("visit/<str:token>/cancel/", views_calendar.visit_cancel, name="visit_cancel"),
]
