"""`make run` under a burst: 60 logged-in people register at the same moment against the
server `make run` starts (gunicorn, on SQLite, with its real worker and beat). Every request
gets an answer (Django's dev server queued 10 and reset the rest, and a browser does not
resubmit a POST), and the seat rules hold: exactly the seats, the per-member limit, the
waiting list in the order people arrived, each told their true place."""

from __future__ import annotations

import http.client
import re
import statistics
import threading
import time
from collections import Counter
from http.cookies import SimpleCookie

import pytest

from .stack import MakeRun

pytestmark = [pytest.mark.worker, pytest.mark.serial]  # a burst: measured alone

PEOPLE, MEMBERS, CAPACITY, LIMIT = 60, 12, 20, 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = MakeRun(tmp_path_factory.mktemp("make-run") / "var")
    try:
        yield running
    finally:
        running.stop()


def _request(port: int, method: str, path: str, cookies: dict[str, str], body: str = ""):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        content = response.read().decode()
        jar = SimpleCookie()
        for value in response.headers.get_all("Set-Cookie") or []:
            jar.load(value)
        return response.status, content, {k: m.value for k, m in jar.items()}
    finally:
        conn.close()


def test_make_run_answers_60_simultaneous_registrations_and_the_rules_hold(stack):
    assert f"会員ポータル (portal) : {stack.url}/portal/" in stack.log()
    assert "ユーザー名: jimukyoku" in stack.log()
    setup = stack.step(
        "prepare_burst", members=MEMBERS, per_member=PEOPLE // MEMBERS, capacity=CAPACITY,
        limit=LIMIT,
    )  # fmt: skip
    training, people = setup["training"], setup["people"]
    # Each person opens the training's page first (session, CSRF token), as in a browser.
    for person in people:
        person["path"] = f"/trainings/m/{person['code']}/{training}/"
        person["cookies"] = {"sessionid": person["session"]}
        status, html, cookies = _request(stack.port, "GET", person["path"], person["cookies"])
        assert status == 200, html[:500]
        person["cookies"].update(cookies)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert token, html[:500]
        person["token"] = token[1]

    barrier = threading.Barrier(len(people))
    results: dict[int, tuple[object, float, dict[str, str]]] = {}

    def register(person: dict) -> None:
        barrier.wait()
        began = time.perf_counter()
        try:
            status, _html, cookies = _request(
                stack.port,
                "POST",
                person["path"],
                person["cookies"],
                f"csrfmiddlewaretoken={person['token']}",
            )
        except OSError as exc:  # a reset or a refused connection: the person got no answer
            results[person["contact"]] = (repr(exc), time.perf_counter() - began, {})
            return
        results[person["contact"]] = (status, time.perf_counter() - began, cookies)

    threads = [threading.Thread(target=register, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    statuses = Counter(str(status) for status, _t, _c in results.values())
    latencies = sorted(t * 1000 for _s, t, _c in results.values())
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"\n60 registrations at once through make run: {dict(statuses)}, "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms")  # fmt: skip
    assert statuses == {"302": PEOPLE}

    rows = stack.step("registrations", training=training)["rows"]
    assert len(rows) == PEOPLE and len({r["contact"] for r in rows}) == PEOPLE
    confirmed = [r for r in rows if r["status"] == "confirmed"]
    waiting = [r for r in rows if r["status"] == "waitlisted"]
    assert len(confirmed) == CAPACITY and len(waiting) == PEOPLE - CAPACITY
    assert max(Counter(r["member"] for r in confirmed).values()) <= LIMIT
    # In arrival order (the id, taken under the training's lock), a person waits only when
    # every seat was taken or their member had reached its limit, and gets a seat otherwise.
    seats_before, member_before = 0, Counter[int]()
    for row in rows:
        full = seats_before >= CAPACITY or member_before[row["member"]] >= LIMIT
        assert row["status"] == ("waitlisted" if full else "confirmed"), row
        if not full:
            seats_before += 1
            member_before[row["member"]] += 1
    # Each person is told what the database holds: their seat, or their true place in line.
    place = {row["contact"]: n for n, row in enumerate(waiting, start=1)}
    for person in people:
        cookies = {**person["cookies"], **results[person["contact"]][2]}
        _status, html, _c = _request(stack.port, "GET", person["path"], cookies)
        if person["contact"] in place:
            assert f"キャンセル待ち（{place[person['contact']]}番目）で受け付けました" in html
        else:
            assert "参加が確定しました" in html
