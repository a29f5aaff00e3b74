"""The login code a browser test types: read from the newest code mail in the outbox."""

from __future__ import annotations

import re
import time
from typing import Any

CODE = re.compile(r"確認コード：(\S+)")


def code_mails(outbox: Any, email: str) -> list[Any]:
    """The code mails to EMAIL, oldest first. Other mail (a training notice, a coordinator's
    copy of a colleague's) may come in between, so the newest mail is not taken to be one."""
    return [mail for mail in outbox.to(email) if CODE.search(mail.text)]


def newest_login_code(outbox: Any, email: str, *, after: int = 0, timeout: float = 20) -> str:
    """The code of the newest code mail to EMAIL once there are more than AFTER of them (the
    worker sends it)."""
    deadline = time.monotonic() + timeout
    while len(mails := code_mails(outbox, email)) <= after:
        if time.monotonic() >= deadline:
            raise AssertionError(f"no code mail: {[m.subject for m in outbox.to(email)]}")
        time.sleep(0.1)
    found = CODE.search(mails[-1].text)
    assert found is not None
    return found.group(1)
