from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from mailing import outbox

from . import views

admin.site.site_header = _("連携 Renkei 事務局管理")
admin.site.site_title = _("Renkei 事務局")
admin.site.index_title = _("管理メニュー")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("portal/", include("association.urls")),
    path("mail/", include("mailing.urls")),
    path("trainings/", include("events.urls")),
    # The outbox pages answer 404 unless DEBUG is on (see mailing.outbox).
    path("dev/outbox/", outbox.outbox_list, name="outbox_list"),
    path("dev/outbox/<str:name>/", outbox.outbox_detail, name="outbox_detail"),
]
