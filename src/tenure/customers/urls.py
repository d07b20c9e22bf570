from django.urls import path

from tenure.customers import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("<int:customer_id>/", views.customer_detail, name="detail"),
    path("<int:customer_id>/timeline/", views.customer_timeline, name="timeline"),
    path("<int:customer_id>/merge/", views.customer_merge, name="merge"),
    path("new/", views.customer_create, name="create"),
    path("<int:customer_id>/edit/", views.customer_edit, name="edit"),
    path("<int:customer_id>/lifecycle/", views.customer_lifecycle, name="lifecycle"),
]
