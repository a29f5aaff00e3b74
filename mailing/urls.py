from django.urls import path

from . import views, webhooks

app_name = "mailing"

# --- core (sending pipeline) -----------------------------------------------------------------
# Provider webhooks: /mail/anymail/<provider>/tracking/ and …/inbound/, anymail's own views for
# the configured provider only (mailing.webhooks: every other provider's URL is a 404).
core_urlpatterns = [
    path(
        "anymail/<slug:provider>/<slug:kind>/",
        webhooks.provider_webhook,
        name="provider_webhook",
    ),
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
