"""System checks for a production that refuses to be unsafe (RENKEI_ENV=production).
`manage.py check --deploy --fail-level WARNING` with the README's production variables is clean."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security)
def check_site_url(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if not settings.PRODUCTION:
        return []
    url = urlsplit(settings.SITE_URL)
    if url.scheme != "https" or not url.hostname:
        return [
            Error(
                f"SITE_URL must be an https:// URL in production (it is {settings.SITE_URL!r}).",
                hint="Unsubscribe links (RFC 8058 one-click), login and portal links in mail "
                "use SITE_URL; one-click unsubscribe requires https.",
                id="renkei.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_mail_backend(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if settings.PRODUCTION and settings.EMAIL_BACKEND == "mailing.outbox.OutboxBackend":
        return [
            Warning(
                "EMAIL_BACKEND is the development file outbox: no mail leaves this machine.",
                hint="Set EMAIL_BACKEND to an anymail backend or SMTP (README: Production).",
                id="renkei.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_csp(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    middleware = "csp.middleware.CSPMiddleware"
    directives = getattr(settings, "CONTENT_SECURITY_POLICY", {}).get("DIRECTIVES", {})
    script = directives.get("script-src", directives.get("default-src", []))
    if middleware not in settings.MIDDLEWARE or "'unsafe-inline'" in script or not script:
        return [
            Warning(
                "No Content-Security-Policy that refuses inline script.",
                hint="Keep csp.middleware.CSPMiddleware and script-src 'self'.",
                id="renkei.W002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_provider_webhooks(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """Without the webhook secret anyone can post bounces and complaints that suppress real
    recipients; without a provider's signing key, anyone can forge its signed events."""
    if not settings.PRODUCTION:
        return []
    from mailing import webhooks

    problems: list[Error | Warning] = []
    for name in webhooks.configured_providers():
        provider = webhooks.PROVIDERS.get(name)
        if provider is None:
            problems.append(
                Warning(
                    f"Events of the mail provider {name!r} are not read: bounces and "
                    "complaints will not suppress anyone.",
                    hint="Renkei reads events from: " + ", ".join(sorted(webhooks.PROVIDERS)),
                    id="renkei.W003",
                )
            )
            continue
        missing = sorted(
            {key for kind in provider.views for key in webhooks.missing_credentials(name, kind)}
        )
        if missing:
            problems.append(
                Error(
                    f"{' and '.join(missing)} must be set for {provider.esp_name}'s webhooks "
                    "in production; until then they are not mounted.",
                    hint="Set them in the environment (README: Production) and use the same "
                    "credentials in the provider's webhook settings.",
                    id="renkei.E002",
                )
            )
    return problems
