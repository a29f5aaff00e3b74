from email.utils import parseaddr

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    return {
        "SITE_NAME": settings.SITE_NAME,
        "SECRETARIAT_EMAIL": parseaddr(settings.DEFAULT_FROM_EMAIL)[1],
        "DEBUG": settings.DEBUG,
    }
