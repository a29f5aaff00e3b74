from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Renkei's infrastructure (settings, urls, Celery, health): registers its system checks.
    Apps register their own deploy checks the same way (e.g. mailing's webhook secrets)."""

    name = "config"
    label = "config"
    verbose_name = "Renkei"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the checks
