from django.contrib import admin
from django.urls import path

from . import views

app_name = "office"

urlpatterns = [
    path("report/", admin.site.admin_view(views.nendo_report), name="nendo_report"),
]
