from allauth.account import views as account_views
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from mailing import outbox
from mailing import views as mailing_views

from . import views

admin.site.site_header = _("連携 Renkei 事務局管理")
admin.site.site_title = _("Renkei 事務局")
admin.site.index_title = _("管理メニュー")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    # The secretariat's desk (home page data, reports, papers), behind the admin's own door.
    path("admin/office/", include("office.urls")),
    path("admin/", admin.site.urls),
    # Only the doors the portal needs, at allauth's own URLs; every other allauth page (email,
    # password, signup, reauthenticate, 3rd-party, /accounts/login/) is not mounted and 404s.
    path(
        "accounts/login/code/",
        account_views.request_login_code,
        name="account_request_login_code",
    ),
    path(
        "accounts/login/code/confirm/",
        account_views.confirm_login_code,
        name="account_confirm_login_code",
    ),
    path("accounts/logout/", account_views.logout, name="account_logout"),
    # allauth's pages link to "account_login" (for code login it is the code request).
    path("accounts/login/code/", account_views.request_login_code, name="account_login"),
    # The short link in every bulletin: the unsubscribe page (and RFC 8058 one-click POST).
    path("u/<str:token>", mailing_views.unsubscribe, name="unsubscribe_link"),
    path("mail/", include("mailing.urls")),
    path("trainings/", include("events.urls")),
    path("inquiries/", include("inquiries.urls")),
    path("portal/", include("association.urls")),
]

if not settings.PRODUCTION:
    # Every login code is in the outbox: its pages exist only outside production, and answer
    # 404 unless DEBUG is on and the visitor is a superuser (see mailing.outbox).
    urlpatterns += [
        path("dev/outbox/", outbox.outbox_list, name="outbox_list"),
        path("dev/outbox/<str:name>/", outbox.outbox_detail, name="outbox_detail"),
    ]
