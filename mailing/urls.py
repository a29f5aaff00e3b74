from django.urls import include, path

app_name = "mailing"

# --- core (sending pipeline) -----------------------------------------------------------------
# Provider webhooks: /mail/anymail/<esp>/tracking/ (anymail's own views; credentials in
# ANYMAIL["WEBHOOK_SECRET"]).
core_urlpatterns = [
    path("anymail/", include("anymail.urls")),
]

# --- UI (views, unsubscribe, preferences, archive) -------------------------------------------
ui_urlpatterns: list = []

urlpatterns = core_urlpatterns + ui_urlpatterns
