from django.urls import path

from . import views

app_name = "papers"

urlpatterns = [
    path("m/<str:code>/history/", views.attendance_history, name="attendance_history"),
    path(
        "m/<str:code>/registrations/<int:pk>/certificate.pdf",
        views.my_certificate,
        name="my_certificate",
    ),
    path("m/<str:code>/trainings/<int:pk>/notice.pdf", views.my_notice, name="my_notice"),
]
