from django.contrib import admin
from django.urls import path

from . import views

app_name = "office"

urlpatterns = [
    path("report/", admin.site.admin_view(views.nendo_report), name="nendo_report"),
    path(
        "trainings/<int:pk>/attendance.pdf",
        admin.site.admin_view(views.training_paper),
        {"paper": "attendance"},
        name="attendance_sheet",
    ),
    path(
        "trainings/<int:pk>/badges.pdf",
        admin.site.admin_view(views.training_paper),
        {"paper": "badges"},
        name="badges",
    ),
    path(
        "trainings/<int:pk>/notices.pdf",
        admin.site.admin_view(views.training_paper),
        {"paper": "notices"},
        name="notices",
    ),
    path(
        "trainings/<int:pk>/certificates.pdf",
        admin.site.admin_view(views.training_paper),
        {"paper": "certificates"},
        name="certificates",
    ),
]
