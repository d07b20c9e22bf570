from django.urls import path

from tenure.field import views_board, views_tech

app_name = "field"

urlpatterns = [
    path("board/", views_board.board, name="board"),
    path("board/replan/", views_board.board_replan, name="board_replan"),
    path("board/move/", views_board.board_move, name="board_move"),
    path("today/", views_tech.today, name="today"),
    path("today/<int:appointment_id>/<slug:action>/", views_tech.report, name="report"),
]
