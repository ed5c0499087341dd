"""The class server's link check: an ASGI layer (inside the gate of sim/app/guard.py) that refuses a page
whose link carries a token that is not this class's.

- `/?teacher=T`: T must be the teacher's token; `/?join=C`: the class's token; `/?student=S`: a student
  of the class (not removed). Anything else with one of these keys is HTTP 403 with a plain sentence,
  before solara makes a session.
- `/` without a token is the page where a student types the join code (the class's content needs a
  token or the code); the page checks the code with the class.
The pages check the same tokens again (a websocket could claim any address), so this layer only keeps
wrong links from costing the server a session.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

from sim.app.guard import MACHINERY, ASGIApp, Receive, Scope, Send
from sim.classplay import ClassRoom, StudentView

REFUSED = {
    "teacher": "This teacher link is not this class's: use the teacher link `sim app --class` printed.",
    "join": "This join link is not this class's: ask your teacher for the class's link or code.",
    "student": "This student link is not (or no longer) in the class: open the class's join link to join again.",
}


def refusal(room: ClassRoom, query: str) -> str | None:
    """Why a page with this query string is refused (None: it may open)."""
    values = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if "teacher" in values and not room.is_teacher(values["teacher"]):
        return REFUSED["teacher"]
    if "join" in values and not room.admits(values["join"]):
        return REFUSED["join"]
    if "student" in values and not isinstance(room.view(values["student"]), StudentView):
        return REFUSED["student"]
    return None


class ClassGate:
    """Refuse page requests whose link's token is not this class's (HTTP 403, plain text)."""

    def __init__(self, app: ASGIApp, room: Callable[[], ClassRoom | None]) -> None:
        self.app = app
        self.room = room

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and scope.get("method") == "GET" and not path.startswith(MACHINERY):
            room = self.room()
            why = refusal(room, scope.get("query_string", b"").decode("latin-1")) if room is not None else None
            if why:
                body = (why + "\n").encode()
                headers = [(b"content-type", b"text/plain; charset=utf-8"),
                           (b"content-length", str(len(body)).encode())]  # fmt: skip
                await send({"type": "http.response.start", "status": 403, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
