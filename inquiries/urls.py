from django.urls import path

from . import views

app_name = "inquiries"
urlpatterns = [
    path("m/<str:code>/", views.member_list, name="member"),
    path("<int:pk>/answer/", views.answer_mine, name="answer_mine"),
    path("m/<str:code>/<int:pk>/", views.answer, name="answer"),
    path("m/<str:code>/<int:pk>/chosahyo.xlsx", views.form_xlsx, name="form_xlsx"),
    path("m/<str:code>/<int:pk>/upload/", views.upload, name="upload"),
    path("surveys/<int:pk>/", views.survey, name="survey"),
    path("results/", views.published_list, name="published_list"),
    path("results/<int:pk>/", views.published, name="published"),
]
