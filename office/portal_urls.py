from django.urls import path

from . import views

app_name = "papers"

urlpatterns = [
    path(
        "m/<str:code>/registrations/<int:pk>/certificate.pdf",
        views.my_certificate,
        name="my_certificate",
    ),
]
