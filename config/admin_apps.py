from django.contrib.admin.apps import AdminConfig


class RenkeiAdminConfig(AdminConfig):
    """django.contrib.admin with the secretariat's door as its default site."""

    default_site = "association.admin_site.SecretariatAdminSite"
