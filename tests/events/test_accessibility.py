"""JIS X 8341-3:2016 AA (WCAG 2.0 AA) on the training pages, checked in real Chromium with
axe-core (pinned in package.json, installed by `make axe` from the lock file, injected through
Playwright; never fetched at run time): WCAG 2.0/2.1 A and AA rules, zero violations."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.utils import timezone

from events import services

from .test_browser import log_in

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    assert AXE.exists(), "axe-core is missing: run `make axe` (npm ci from package-lock.json)"
    page.evaluate(AXE.read_text())  # evaluated by the browser itself: the page's CSP stays on
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    assert len(result["passes"]) > 10  # axe ran its rules on this page
    return [
        f"{v['id']}: {v['help']} — {json.dumps([n['target'] for n in v['nodes']][:3])}"
        for v in result["violations"]
    ]


@pytest.mark.parametrize("width", [1280, 375])
def test_the_training_pages_have_no_wcag_aa_violations(
    page, celery_worker, make_training, alice, bob, charlie, outbox, width
):
    training = make_training(title="自殺対策 全体研修会", capacity=1)
    services.register_for_training(training, contact=charlie)
    services.register_for_training(training, contact=bob)
    make_training(title="受付前の研修会", opens_at=timezone.now() + dt.timedelta(days=5))
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, alice, outbox)

    found = {}
    for path in [
        "/trainings/m/131237/",
        f"/trainings/m/131237/{training.pk}/",
        "/trainings/m/131237/calendar/",
    ]:
        page.goto(path)
        found[path] = violations(page)
    registration = training.registrations.get(contact=bob)
    page.goto(f"/trainings/m/131237/registrations/{registration.pk}/substitute/")
    found["substitute"] = violations(page)

    assert found == {k: [] for k in found}


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(float(x)) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return r, g, b


def test_the_keyboard_focus_outline_stands_out_at_least_3_to_1(
    page, celery_worker, make_training, alice, outbox
):
    training = make_training()
    log_in(page, alice, outbox)
    page.goto(f"/trainings/m/131237/{training.pk}/")

    for target in ("button[type=submit]", "input[type=checkbox]", "a"):
        page.locator(target).first.focus()
        outline, width = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineColor, s.outlineWidth]; }"
        )
        assert float(width.removesuffix("px")) >= 2, target
        for background in ("rgb(255, 255, 255)", "rgb(247, 249, 251)"):  # card, page
            assert contrast(rgb(outline), rgb(background)) >= 3, (target, outline, background)
