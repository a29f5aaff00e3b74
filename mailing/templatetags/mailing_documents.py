from django import template

from mailing.models import Document

register = template.Library()


@register.inclusion_tag("admin/mailing/bulletin/_documents.html")
def recent_documents(limit: int = 10) -> dict[str, object]:
    """The latest published documents, with the URL to paste into a bulletin's body."""
    return {"documents": list(Document.objects.all()[:limit])}
