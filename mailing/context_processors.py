"""What every secretariat page needs from the mailing app: bulletins that stopped by themselves
(the banner in templates/admin/base_site.html). Read only when a page shows the banner."""

from __future__ import annotations

from django.http import HttpRequest

from .models import Bulletin


def stopped_bulletins(request: HttpRequest) -> dict[str, object]:
    def stopped() -> list[Bulletin]:
        return list(
            Bulletin.objects.filter(status=Bulletin.Status.FAILED)
            .only("pk", "subject", "failure_reason")
            .order_by("-updated_at")[:5]
        )

    return {"stopped_bulletins": stopped}
