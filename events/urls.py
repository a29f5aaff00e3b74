from django.urls import path

from . import views

app_name = "events"
urlpatterns = [
    path("", views.index, name="list"),
    path("m/<str:code>/", views.member_list, name="member"),
    path("m/<str:code>/<int:pk>/", views.detail, name="detail"),
    path("m/<str:code>/registrations/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("m/<str:code>/registrations/<int:pk>/substitute/", views.substitute, name="substitute"),
    path("m/<str:code>/registrations/<int:pk>/training.ics", views.ics, name="ics"),
    path("m/<str:code>/calendar/", views.calendar_feed, name="calendar_feed"),
    path("feed/<str:token>/trainings.ics", views.feed, name="feed"),
]
