"""Portal pages for municipality staff. Each view authorises through association.services and
calls one events service."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from association import services as registry
from association.models import Contact, Member, User
from association.view_as import viewing_as
from questions.forms import AnswerForm

from . import services
from .calendar import member_feed, registration_ics
from .forms import ColleagueForm, RegisterColleaguesForm
from .models import CalendarFeed, Registration, Training
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
    form = RegisterColleaguesForm(colleagues=colleagues)
    asks = bool(services.training_questions(training))
    row = training_rows(member, [training])[0]
    own = any(r.registration.contact_id == me.pk for r in row.registrations)
    ctx = {
        "member": member,
        "me": me,
        "training": training,
        "row": row,
        "sessions": training.sessions.all(),
        "form": form,
        # One set of answers per person: each colleague ticked, the new colleague, oneself.
        "colleague_rows": [
            (box, _answers(training, prefix=f"c{box.data['value']}") if asks else None)
            for box in form["contact"]
        ],
        "new_answers": _answers(training, prefix="new") if asks else None,
        "own_answers": _answers(training, prefix="self") if asks else None,
        "can_register": row.is_open and row.admitted and (me.is_coordinator or not own),
        "show_online_url": any(
            r.registration.is_confirmed and r.registration.contact_id == me.pk
            for r in row.registrations
        ),
    }
    return render(request, "events/training_detail.html", ctx)


def _answers(training: Training, data: Any = None, *, prefix: str) -> AnswerForm:
    assert training.question_set is not None
    # One query for the questions, however many people's forms the page shows.
    prefetch_related_objects([training.question_set], "questions")
    return AnswerForm(training.question_set, data, prefix=prefix, require=True)


def _read_answers(
    request: HttpRequest, training: Training, people: list[tuple[str, str]]
) -> dict[str, AnswerForm] | None:
    """Each person's answers (PEOPLE: (form prefix, name to show)), or None after putting every
    problem in the messages, naming the person it is about."""
    forms = {prefix: _answers(training, request.POST, prefix=prefix) for prefix, _n in people}
    fine = True
    for prefix, name in people:
        form = forms[prefix]
        if form.is_valid():
            continue
        fine = False
        for _id, label, message in form.error_summary:
            text = f"{label}: {message}"
            messages.error(request, f"{name} さん — {text}" if name else text)
    return forms if fine else None


def _register(request: HttpRequest, me: Contact, pk: int) -> HttpResponse:
    """Register oneself, or, as coordinator, the colleagues ticked in the form and a new
    colleague entered there: all of them or, if any is refused, none."""
    member = me.member
    training = get_object_or_404(Training, pk=pk)
    if training.status == Training.Status.DRAFT:
        raise Http404
    back = redirect("events:detail", code=member.local_government_id, pk=pk)
    if not me.is_coordinator:
        chosen: list[Contact] = [me]
        new_values = None
        people = [("self", "")]
    else:
        form = RegisterColleaguesForm(request.POST, colleagues=_colleagues(member, training))
        if not form.is_valid():
            for error in [e for errors in form.errors.values() for e in errors]:
                messages.error(request, str(error))
            return back
        chosen = list(form.cleaned_data["contact"])
        new_values = form.new_colleague()
        people = [(f"c{c.pk}", str(c.name)) for c in chosen]
        if new_values is not None:
            people.append(("new", new_values["name"]))
    answers: dict[str, AnswerForm] = {}
    if services.training_questions(training):
        read = _read_answers(request, training, people)
        if read is None:
            messages.error(request, _("申込みはしていません。"))
            return back
        answers = read
    prefixes = [prefix for prefix, _name in people]
    done = []
    try:
        with transaction.atomic():
            if new_values is not None:
                chosen.append(registry.add_contact(member, by=_user(request), **new_values))
            for prefix, contact in zip(prefixes, chosen, strict=True):
                registration = services.register_for_training(
                    training, contact=contact, actor=me, by=_user(request)
                )
                if prefix in answers:
                    services.answer_training_questions(
                        registration, answers[prefix].answers(), actor=me, by=_user(request)
                    )
                done.append((contact, registration))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc) + " " + _("申込みはしていません。"))
        return back
    for contact, registration in done:
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
    return back


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


@login_required
def calendar_feed(request: HttpRequest, code: str) -> HttpResponse:
    """The member's calendar feed URL: shown to coordinators, issued anew (the old one stops
    working) or revoked."""
    me = registry.require_coordinator(_user(request), code)
    member = me.member
    if request.method == "POST":
        if request.POST.get("act") == "revoke":
            services.revoke_calendar_feeds(member, actor=me, by=_user(request))
            messages.success(request, _("カレンダー配信URLを無効にしました。"))
        else:
            services.issue_calendar_feed(member, actor=me, by=_user(request))
            messages.success(
                request, _("新しいカレンダー配信URLを発行しました。以前のURLは使えなくなりました。")
            )
        return redirect("events:calendar_feed", code=code)
    feed = member.calendar_feeds.filter(revoked_at__isnull=True).first()
    hidden = viewing_as(request)  # the secret URL would outlive a read-only view
    url = ""
    if feed and not hidden:
        url = request.build_absolute_uri(reverse("events:feed", args=[feed.token]))
    context = {"member": member, "me": me, "url": url, "hidden": hidden and feed is not None}
    return render(request, "events/calendar_feed.html", context)


def feed(request: HttpRequest, token: str) -> HttpResponse:
    """No login (calendar apps cannot): the secret URL is the key; a revoked one is 404."""
    found = CalendarFeed.objects.filter(token=token, revoked_at__isnull=True).first()
    if found is None:
        raise Http404
    response = HttpResponse(member_feed(found.member_id), content_type="text/calendar")
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
