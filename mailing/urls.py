from django.urls import include, path

from . import views

app_name = "mailing"

# --- core (sending pipeline) -----------------------------------------------------------------
# Provider webhooks: /mail/anymail/<esp>/tracking/ (anymail's own views; credentials in
# ANYMAIL["WEBHOOK_SECRET"]).
core_urlpatterns = [
    path("anymail/", include("anymail.urls")),
]

# --- UI (views, unsubscribe, preferences, archive) -------------------------------------------
# The unsubscribe URL is also the RFC 8058 one-click endpoint (see mailing.tokens).
ui_urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("preferences/", views.preferences, name="preferences"),
    path("archive/", views.archive, name="archive"),
    path("archive/<int:pk>/", views.archive_detail, name="archive_detail"),
    path("files/<str:token>/<str:filename>", views.document_file, name="document"),
]

urlpatterns = core_urlpatterns + ui_urlpatterns
