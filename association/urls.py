from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("view-as/end/", views.view_as_end, name="view_as_end"),
    path("m/<str:code>/", views.member_home, name="member"),
    path("m/<str:code>/switch/", views.switch_member, name="switch"),
    path("m/<str:code>/training-copies/", views.training_copies, name="training_copies"),
    path("m/<str:code>/contacts/add/", views.contact_add, name="contact_add"),
    path("m/<str:code>/contacts/<int:pk>/handover/", views.contact_hand_over, name="hand_over"),
]
