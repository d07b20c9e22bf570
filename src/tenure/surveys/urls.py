from django.urls import path

from tenure.surveys import views

app_name = "surveys"

urlpatterns = [path("a/<str:token>/", views.answer_page, name="answer")]
