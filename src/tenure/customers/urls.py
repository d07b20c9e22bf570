from django.urls import path

from tenure.customers import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
]
