"""Portal pages for municipality staff. Each view authorises through association.services and
calls one events service."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from association import services as registry
from association.models import Contact, Member, User

from . import services
from .calendar import registration_ics
from .forms import ColleagueForm
from .models import Registration, Training
from .portal import member_trainings, training_rows


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _refusal(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or _("この操作はできません。")


@login_required
def index(request: HttpRequest) -> HttpResponse:
    contacts = list(
        Contact.objects.for_user(_user(request)).select_related(
            "member__local_government__prefecture"
        )
    )
    if len(contacts) == 1:
        return redirect("events:member", code=contacts[0].member.local_government_id)
    return render(request, "events/choose_member.html", {"contacts": contacts})


@login_required
def member_list(request: HttpRequest, code: str) -> HttpResponse:
    me = registry.portal_contact(_user(request), code)
    member = me.member
    ctx = {"member": member, "me": me, "rows": member_trainings(member)}
    return render(request, "events/training_list.html", ctx)


def _colleagues(member: Member, training: Training):  # type: ignore[no-untyped-def]
    taken = Registration.objects.active().filter(training=training).values("contact_id")
    return member.contacts.active().exclude(pk__in=taken).order_by("kana", "id")


@login_required
def detail(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    if request.method == "POST":
        # Registering needs the member, not its registry rows (loaded if a rule asks).
        me = registry.portal_contact(_user(request), code, registry=False)
        return _register(request, me, pk)
    me = registry.portal_contact(_user(request), code)
    member = me.member
    training = get_object_or_404(
        Training.objects.exclude(status=Training.Status.DRAFT)
        .with_counts()
        .select_related("block"),
        pk=pk,
    )
    colleagues = _colleagues(member, training)
    row = training_rows(member, [training])[0]
    own = any(r.registration.contact_id == me.pk for r in row.registrations)
    ctx = {
        "member": member,
        "me": me,
        "training": training,
        "row": row,
        "sessions": training.sessions.all(),
        "form": ColleagueForm(colleagues=colleagues),
        "can_register": row.is_open
        and row.admitted
        and (colleagues.exists() if me.is_coordinator else not own),
        "show_online_url": any(
            r.registration.is_confirmed and r.registration.contact_id == me.pk
            for r in row.registrations
        ),
    }
    return render(request, "events/training_detail.html", ctx)


def _register(request: HttpRequest, me: Contact, pk: int) -> HttpResponse:
    """Register oneself, or, as coordinator, the colleague chosen in the form."""
    member = me.member
    training = get_object_or_404(Training, pk=pk)
    if training.status == Training.Status.DRAFT:
        raise Http404
    contact = me
    if me.is_coordinator and request.POST.get("contact"):
        form = ColleagueForm(request.POST, colleagues=_colleagues(member, training))
        if not form.is_valid():
            messages.error(request, _("申し込む方を一覧から選んでください。"))
            return redirect("events:detail", code=member.local_government_id, pk=pk)
        contact = form.cleaned_data["contact"]
    try:
        registration = services.register_for_training(
            training, contact=contact, actor=me, by=_user(request)
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
    else:
        if registration.is_confirmed:
            text = _("%(name)s さんの参加が確定しました。確認メールをお送りしました。")
            place = None
        else:
            text = _(
                "%(name)s さんをキャンセル待ち（%(place)s番目）で受け付けました。"
                "繰り上がったらメールでお知らせします。"
            )
            place = registration.waitlist_place()
        messages.success(request, text % {"name": contact.name, "place": place})
    return redirect("events:detail", code=member.local_government_id, pk=pk)


def _registration(member: Member, pk: int) -> Registration:
    return get_object_or_404(
        Registration.objects.select_related("training", "contact", "member"), pk=pk, member=member
    )


@login_required
@require_POST
def cancel(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    me = registry.portal_contact(_user(request), code)
    member = me.member
    registration = _registration(member, pk)
    try:
        services.cancel_registration(registration, actor=me, by=_user(request))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(
            request,
            _("%(name)s さんの申込みを取り消しました。") % {"name": registration.contact.name},
        )
    return redirect("events:detail", code=code, pk=registration.training_id)


@login_required
def substitute(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    me = registry.portal_contact(_user(request), code)
    member = me.member
    registration = _registration(member, pk)
    if registration.status == Registration.Status.CANCELLED:
        return redirect("events:detail", code=code, pk=registration.training_id)
    if registration.training.is_over_at(timezone.now()):
        messages.error(request, services.OVER_REFUSAL)
        return redirect("events:detail", code=code, pk=registration.training_id)
    colleagues = _colleagues(member, registration.training)
    form = ColleagueForm(request.POST or None, colleagues=colleagues, label=_("新しい参加者"))
    if request.method == "POST" and form.is_valid():
        try:
            services.substitute_registration(
                registration, contact=form.cleaned_data["contact"], actor=me, by=_user(request)
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, _refusal(exc))
        else:
            messages.success(
                request,
                _("参加者を %(new)s さんに差し替えました。")
                % {"new": form.cleaned_data["contact"].name},
            )
            return redirect("events:detail", code=code, pk=registration.training_id)
    ctx = {"member": member, "me": me, "registration": registration, "form": form}
    return render(request, "events/substitute.html", ctx)


@login_required
def ics(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    me = registry.portal_contact(_user(request), code)
    member = me.member
    registration = _registration(member, pk)
    if not me.is_coordinator and registration.contact_id != me.pk:
        raise PermissionDenied
    response = HttpResponse(registration_ics(registration), content_type="text/calendar")
    response["Content-Disposition"] = (
        f'attachment; filename="training-{registration.training_id}.ics"'
    )
    return response
