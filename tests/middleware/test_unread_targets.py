"""Nothing protected passes unread (issue 13, classes 2 and 7).

A protected request whose target we cannot read is refused; the body is read every way an
app reads it and every reading's targets are checked; ambiguous framing is refused; a path's
wildcard reads an object's keys; JSON too deep to read is a 400, not a 503.

The apps here read requests the way hand-written apps do, not the way we do: one compares
the content type case-sensitively and falls back to JSON, one falls back to a form, one
takes the recipient under another name, one honours the declared charset. Each records whom
it delivered to, so a test can say "the child never received it". Every test that expects
a refusal here failed before this was fixed: the request reached the app, and the child.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import inspect
import io
import json
import os
import textwrap
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.errors import PolicyError
from safe_accounts.pipeline.websocket import UNPARSEABLE, parse_frame
from safe_accounts.policy import load_policy
from tests.websocket.inprocess import DENIAL, connect

from .conftest import drop_host_tables, seed

POLICY = textwrap.dedent(
    """
    version: 1
    name: unread-targets
    extends: baseline
    # A production budget is 250 ms; a loaded test machine can take longer over a cold query.
    defaults: {time_budget_ms: 2000}
    identity:
      - source: header
        header: x-account-id
        trusted_proxies: ["127.0.0.1/32"]
    relationships:
      connected:
        sql: SELECT b FROM host_friendships WHERE a = :actor AND b IN :targets
      mutual_count:
        sql: >-
          SELECT COUNT(*) FROM host_friendships f1 JOIN host_friendships f2 ON f1.b = f2.b
          WHERE f1.a = :actor AND f2.a = :target
      cache_seconds: 0
    queries:
      conversation_members:
        sql: SELECT member FROM host_members WHERE conversation = :conversation
    routes:
      - name: dm
        method: POST
        path: /dm
        action: direct_message
        targets: [{json: to}, {form: to}]
      - name: web-dm
        method: POST
        path: /web/dm
        action: direct_message
        targets: [{form: to}]
      - name: group
        method: POST
        path: /groups
        action: direct_message
        targets: [{json: "members[*]"}]
      - name: keyed-group
        method: POST
        path: /keyed-groups
        action: direct_message
        targets: [{json: "members[*]~"}]
      - name: conversation-post
        method: POST
        path: /conversations/{conversation}/messages
        action: direct_message
        targets: [{sql: conversation_members, params: {conversation: path.conversation}}]
      - name: announcement
        method: POST
        path: /announcements
        action: direct_message
        # An announcement goes to the author's followers; `cc` adds someone, and may be absent.
        targets: [{json: cc}]
        targets_required: false
      - name: profile
        method: GET
        path: /profile
        action: profile_view
        targets: [{query: id}]
      - name: people
        method: GET
        path: /people
        action: discovery
        response: {items: "groups[*].members[*]", id: id}
      - name: block
        method: POST
        path: /blocks
        action: block
        targets: [{json: account}]
      - name: chat
        method: WEBSOCKET
        path: /ws/chat
        action: direct_message
        targets: [{query: with}]
    """
)
MONITOR = POLICY.replace("name: unread-targets\n", "name: unread-targets\nmode: monitor\n")

STRANGER, CHILD, YOUNG_CHILD, ADULT = "adult", "kid", "young", "other-adult"
MINORS = {CHILD, YOUNG_CHILD, "teen", "kid-friend"}


# --- how apps read a request ------------------------------------------------------------------

Fields = dict[str, Any]


def _form(body: bytes) -> Fields:
    fields: Fields = {}
    for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        fields[key] = value if key not in fields else [*_as_list(fields[key]), value]
    return fields


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _json(body: bytes) -> Fields:
    data = json.loads(body)  # as Starlette's `Request.json()`: the charset is not looked at
    return data if isinstance(data, dict) else {}


def _media(content_type: str) -> str:
    return content_type.split(";")[0].strip()


def form_first(content_type: str, body: bytes) -> Fields:
    """`if content_type == "application/x-www-form-urlencoded": form, else JSON`."""
    return _form(body) if _media(content_type) == "application/x-www-form-urlencoded" else _json(body)


def json_first(content_type: str, body: bytes) -> Fields:
    """`if content_type == "application/json": JSON, else form`."""
    return _json(body) if _media(content_type) == "application/json" else _form(body)


def starlette_like(content_type: str, body: bytes) -> Fields:
    """The media type case-insensitively, the charset ignored, nothing else read."""
    media = _media(content_type).lower()
    if media == "application/json":
        return _json(body)
    return _form(body) if media == "application/x-www-form-urlencoded" else {}


def charset_honouring(content_type: str, body: bytes) -> Fields:
    """JSON decoded in the declared charset, or a form when that fails."""
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"')
    try:
        data = json.loads(body.decode(charset))
    except (LookupError, UnicodeDecodeError, ValueError):
        return _form(body)
    return data if isinstance(data, dict) else {}


def alias_reading(content_type: str, body: bytes) -> Fields:
    """JSON, and a recipient under `recipient` when `to` is absent."""
    data = _json(body)
    if "to" not in data and "recipient" in data:
        data["to"] = data["recipient"]
    return data


Reading = Callable[[str, bytes], Fields | Awaitable[Fields]]


class Messenger:
    """A raw ASGI app that delivers a message to whomever its reading of the request names."""

    def __init__(self, reading: Reading = starlette_like) -> None:
        self.reading = reading
        self.delivered: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            return
        if scope["path"] == "/people":
            listing = json.dumps({"groups": {"g1": {"members": [{"id": CHILD}, {"id": ADULT}]}}}).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": listing})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        content_type = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), "")
        try:
            read = self.reading(content_type, body) if body.strip() else {}
            fields = await read if inspect.isawaitable(read) else read
        except (ValueError, UnicodeDecodeError):
            fields = {}
        key = "members" if scope["path"].endswith("groups") else "to"
        value = fields.get(key)
        named = [] if value is None else list(value) if isinstance(value, (list, dict)) else [value]
        self.delivered.extend(str(n) for n in named)
        status = 201 if named or scope["path"] in ("/announcements", "/blocks") else 422
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" if status == 201 else b"no recipient"})


# --- calling it -----------------------------------------------------------------------------


class Answer:
    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def problem_type(self) -> str | None:
        if (b"content-type", b"application/problem+json") not in self.headers:
            return None
        return str(json.loads(self.body)["type"]).rsplit("/", 1)[-1]


async def call(
    app: Any,
    method: str,
    path: str,
    actor: str,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    *,
    query: str = "",
    length: bool = True,
) -> Answer:
    """One raw ASGI request, headers exactly as given (a `content-length` is added unless
    `length=False`)."""
    raw = [(b"host", b"testserver"), (b"x-account-id", actor.encode())]
    raw += [(k.lower().encode(), v.encode("latin-1")) for k, v in headers or ()]
    if length:
        raw.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "headers": raw, "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.sleep(3600)  # the client waits for the answer
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    return Answer(start["status"], start["headers"], b"".join(m.get("body", b"") for m in sent[1:]))


def as_json(document: Any) -> tuple[bytes, list[tuple[str, str]]]:
    return json.dumps(document).encode(), [("content-type", "application/json")]


Guard = Callable[..., Awaitable[SafeAccountsMiddleware]]


@pytest.fixture
async def guard(engine: AsyncEngine, database_url: str, tmp_path: Path) -> AsyncIterator[Guard]:
    """`await guard(app, policy=POLICY)`: the app behind the middleware, on the seeded tables."""
    clock = FrozenClock(1_800_000_000)
    await seed(engine, clock)
    made: list[SafeAccountsMiddleware] = []

    async def make(app: Any, policy: str = POLICY) -> SafeAccountsMiddleware:
        path = tmp_path / f"policy-{len(made)}.yaml"
        path.write_text(policy)
        middleware = SafeAccountsMiddleware(app, policy=path, database_url=database_url, clock=clock, signals=None)
        made.append(middleware)
        return middleware

    yield make
    for middleware in made:
        await middleware.close()
    await drop_host_tables(engine)


# --- class 2 (a): a protected request whose target cannot be read is refused ------------------


async def test_a_recipient_the_app_reads_under_another_name_is_refused(guard: Guard) -> None:
    app = Messenger(alias_reading)
    answer = await call(await guard(app), "POST", "/dm", STRANGER, *as_json({"recipient": CHILD, "text": "hi"}))
    assert answer.status == 400
    assert answer.problem_type() == "unreadable-target"
    assert app.delivered == []


@pytest.mark.parametrize(
    "to",
    [True, {"name": CHILD}, {"id": None}, "", "  ", None],
    ids=["true", "object-without-id", "null-id", "empty", "blank", "null"],
)
async def test_a_recipient_in_a_shape_no_id_reads_is_refused(guard: Guard, to: Any) -> None:
    app = Messenger()
    answer = await call(await guard(app), "POST", "/dm", STRANGER, *as_json({"to": to}))
    assert answer.status == 400
    assert answer.problem_type() == "unreadable-target"
    assert app.delivered == []


async def test_a_message_naming_no_one_is_refused(guard: Guard) -> None:
    app = Messenger()
    middleware = await guard(app)
    assert (await call(middleware, "POST", "/dm", STRANGER, *as_json({"text": "hi"}))).status == 400
    assert (await call(middleware, "POST", "/dm", STRANGER)).status == 400
    form = [("content-type", "application/x-www-form-urlencoded")]
    assert (await call(middleware, "POST", "/web/dm", STRANGER, b"to=", form)).status == 400


async def test_a_recipient_written_as_a_list_is_each_account_in_it(guard: Guard) -> None:
    app = Messenger()
    middleware = await guard(app)
    answer = await call(middleware, "POST", "/dm", STRANGER, *as_json({"to": [ADULT, [CHILD]]}))
    assert answer.status == 403
    assert CHILD not in app.delivered
    answer = await call(middleware, "POST", "/dm", STRANGER, *as_json({"to": [ADULT]}))
    assert answer.status == 201
    assert app.delivered == [ADULT]


async def test_a_message_to_oneself_is_not_refused(guard: Guard) -> None:
    app = Messenger()
    answer = await call(await guard(app), "POST", "/dm", STRANGER, *as_json({"to": STRANGER}))
    assert answer.status == 201


async def test_a_lookup_that_names_no_one_else_has_read_the_targets(guard: Guard) -> None:
    """A conversation with no one else in it: the lookup answered, nobody is protected."""
    app = Messenger()
    middleware = await guard(app)
    answer = await call(middleware, "POST", "/conversations/c-empty/messages", STRANGER, *as_json({"to": "x"}))
    assert answer.status == 201
    answer = await call(middleware, "POST", "/conversations/c-stranger/messages", STRANGER, *as_json({"to": "x"}))
    assert answer.status == 403


async def test_a_route_whose_target_is_optional_passes_a_request_without_one(guard: Guard) -> None:
    app = Messenger()
    middleware = await guard(app)
    assert (await call(middleware, "POST", "/announcements", STRANGER, *as_json({"text": "hi"}))).status == 201
    # A target it does name is still checked.
    assert (await call(middleware, "POST", "/announcements", STRANGER, *as_json({"cc": CHILD}))).status == 403


async def test_a_profile_request_naming_no_one_is_refused(guard: Guard) -> None:
    answer = await call(await guard(Messenger()), "GET", "/profile", STRANGER, length=False)
    assert answer.status == 400
    assert answer.problem_type() == "unreadable-target"


async def test_a_block_naming_no_one_still_reaches_the_app(guard: Guard) -> None:
    """Blocks and reports are recorded, never refused: the app decides what a block of nobody is."""
    answer = await call(await guard(Messenger()), "POST", "/blocks", CHILD, *as_json({}))
    assert answer.status == 201


async def test_in_monitor_mode_an_unreadable_target_changes_nothing(guard: Guard) -> None:
    app = Messenger(alias_reading)
    answer = await call(await guard(app, MONITOR), "POST", "/dm", STRANGER, *as_json({"recipient": CHILD}))
    assert answer.status == 201


async def test_a_socket_naming_no_peer_is_refused_before_it_opens(guard: Guard) -> None:
    app = await guard(Messenger())
    headers = [(b"x-account-id", STRANGER.encode())]
    async with connect(app, "/ws/chat", headers, extensions=DENIAL) as ws:
        start = await ws.next()
        assert start["type"] == "websocket.http.response.start"
        assert start["status"] == 400
        body = await ws.next()
        assert json.loads(body["body"])["type"].endswith("/unreadable-target")
    async with connect(app, "/ws/chat", headers) as ws:
        assert (await ws.next())["code"] == 1008
    async with connect(app, "/ws/chat", headers, query=f"with={ADULT}") as ws:
        assert (await ws.next())["type"] == "websocket.accept"


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        ("{method: POST, path: /dm, action: direct_message}", "must say where its target is"),
        ("{method: GET, path: /u, action: profile_view, targets: []}", "must say where its target is"),
        ("{method: GET, path: /s, action: discovery, targets_required: true}", "does not apply to `discovery`"),
    ],
)
def test_a_protected_route_that_names_no_target_stops_start_up(tmp_path: Path, route: str, reason: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(f"version: 1\nname: x\nroutes:\n  - {route}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert any(reason in str(problem) and ":4:" in str(problem) for problem in caught.value.problems)


def test_a_route_may_say_its_target_is_optional(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nname: x\nroutes:\n  - {method: POST, path: /dm, action: direct_message, targets_required: false}\n"
    )
    assert load_policy(path).policy.routes[0].targets_required is False


# --- class 2 (b): every reading of the body --------------------------------------------------


async def test_a_json_body_typed_as_a_form_in_another_case_is_read_as_json(guard: Guard) -> None:
    app = Messenger(form_first)
    headers = [("content-type", "Application/x-www-form-urlencoded")]
    answer = await call(await guard(app), "POST", "/dm", STRANGER, b'{"to": "kid"}', headers)
    assert answer.status == 403
    assert app.delivered == []


async def test_a_charset_the_app_ignores_does_not_hide_the_recipient(guard: Guard) -> None:
    app = Messenger(form_first)
    body = b'{"to": "kid", "x": 10}'
    assert len(body) % 2 == 0  # UTF-16 decodes it, into nonsense
    answer = await call(
        await guard(app), "POST", "/dm", STRANGER, body, [("content-type", "text/plain; charset=utf-16")]
    )
    assert answer.status == 403
    assert app.delivered == []


async def test_a_json_body_the_app_reads_as_a_form_is_read_as_a_form_too(guard: Guard) -> None:
    app = Messenger(json_first)
    body = b'{"to": "other-adult", "x": "&to=kid&"}'
    answer = await call(await guard(app), "POST", "/dm", STRANGER, body, [("content-type", "Application/JSON")])
    assert answer.status == 403
    assert app.delivered == []


async def test_a_field_the_app_reads_from_either_parser_is_read_from_both(guard: Guard) -> None:
    """The route maps only the form field; the app falls back to JSON for what it does not
    take for a form, and the body is a form and JSON at once."""
    app = Messenger(form_first)
    body = b'{"to": "kid", "x": "&to=other-adult&"}'
    answer = await call(
        await guard(app), "POST", "/web/dm", STRANGER, body, [("content-type", "Application/x-www-form-urlencoded")]
    )
    assert answer.status == 403
    assert app.delivered == []


@pytest.mark.parametrize(
    "headers",
    [
        [("content-type", "application/json"), ("content-type", "application/x-www-form-urlencoded")],
        [("content-type", "application/x-www-form-urlencoded"), ("content-type", "application/json")],
        [("content-type", "application/json"), ("content-length", "13"), ("content-length", "12")],
        [("content-type", "application/json"), ("content-length", "13, 12")],
        [("content-type", "application/json"), ("content-length", "12")],
        [("content-type", "application/json"), ("content-length", "13"), ("transfer-encoding", "chunked")],
        [("content-type", "application/json"), ("content-encoding", "identity"), ("content-encoding", "identity")],
    ],
    ids=[
        "two-types", "two-types-reversed", "two-lengths", "a-length-list", "a-short-length", "length-and-chunked",
        "two-encodings",
    ],
)
async def test_ambiguous_framing_is_refused(guard: Guard, headers: list[tuple[str, str]]) -> None:
    app = Messenger(form_first)
    answer = await call(await guard(app), "POST", "/dm", STRANGER, b'{"to": "kid"}', headers, length=False)
    assert answer.status == 400
    assert answer.problem_type() == "unreadable-body"
    assert app.delivered == []


_FORM = [("content-type", "application/x-www-form-urlencoded")]


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(b"to=other-adult")[:-4]),
        ("gzip", gzip.compress(b"to=other-adult") + b"&to=kid"),
        ("gzip", gzip.compress(b"to=other-adult") + gzip.compress(b"&to=kid")),
        ("deflate", zlib.compress(b"to=other-adult") + b"&to=kid"),
    ],
    ids=["cut-short", "bytes-after-it", "a-second-member", "bytes-after-deflate"],
)
async def test_a_compressed_body_that_is_not_exactly_one_whole_stream_is_refused(
    guard: Guard, coding: str, body: bytes
) -> None:
    """One decoder stops at the end of the first stream, `gzip.decompress` reads every member,
    and an app that undoes no coding reads the bytes: they would name three different sets."""
    app = Messenger(form_first)
    answer = await call(await guard(app), "POST", "/dm", STRANGER, body, [*_FORM, ("content-encoding", coding)])
    assert answer.status == 400
    assert answer.problem_type() == "unreadable-body"
    assert app.delivered == []


def _multipart(to: str) -> bytes:
    return f'--XyZ\r\nContent-Disposition: form-data; name="to"\r\n\r\n{to}\r\n--XyZ--\r\n'.encode()


async def test_a_compressed_multipart_body_with_parts_outside_its_compressed_data_is_refused(guard: Guard) -> None:
    """Parts written in the gzip header's file name, before the compressed data: a parser
    that skips a preamble (Django's) finds them in the bytes as sent; ours cannot."""
    out = io.BytesIO()
    with gzip.GzipFile(filename=_multipart(CHILD).decode(), mode="wb", fileobj=out, mtime=0) as stream:
        stream.write(_multipart(ADULT))
    headers = [("content-type", "multipart/form-data; boundary=XyZ"), ("content-encoding", "gzip")]
    middleware = await guard(Messenger())
    answer = await call(middleware, "POST", "/dm", STRANGER, out.getvalue(), headers)
    assert answer.status == 400
    assert answer.problem_type() == "unreadable-body"
    plain = gzip.compress(_multipart(ADULT))
    assert b"--XyZ" not in plain
    answer = await call(middleware, "POST", "/dm", STRANGER, plain, headers)
    assert answer.problem_type() is None  # read, allowed, and left to the app (which reads no multipart)


def _parts(*parts: tuple[list[str], str]) -> bytes:
    """A multipart body (boundary `XyZ`) of (header lines, value) parts."""
    out = b""
    for lines, value in parts:
        out += b"--XyZ\r\n" + "".join(line + "\r\n" for line in lines).encode() + b"\r\n" + value.encode() + b"\r\n"
    return out + b"--XyZ--\r\n"


@pytest.fixture(scope="session")
def django_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Django's settings, as the Django recipe sets them (tests/integrations/conftest.py)."""
    pytest.importorskip("django")
    os.environ.setdefault("RECIPE_DJANGO_DATABASE", str(tmp_path_factory.mktemp("django") / "django.db"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integrations.django_site")


def django_post(content_type: str, body: bytes) -> Fields:
    """Django's `request.POST[name]` over a multipart body: Django's own parser, the last value."""
    from django.http.multipartparser import MultiPartParser

    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
    post, _files = MultiPartParser(meta, io.BytesIO(body), [], "utf-8").parse()
    return {name: post[name] for name in post}


async def litestar_form(content_type: str, body: bytes) -> Fields:
    """Litestar's `await request.form()` over a multipart body: its own parser, a field
    written twice a list."""
    from litestar._multipart import parse_multipart_form

    async def stream() -> AsyncIterator[bytes]:
        yield body

    return await parse_multipart_form(stream(), b"XyZ")


_DISPOSITION = 'Content-Disposition: form-data; name="to"'
# The child's handle as the text of an adult account the stranger owns: in base64 (`a2lk`),
# in UTF-7 (`+AGs-id`).
_BASE64_KID = base64.b64encode(CHILD.encode()).decode()
_UTF7_KID = "+AGs-id"
assert _UTF7_KID.encode().decode("utf-7") == CHILD


@pytest.mark.parametrize(
    ("reading", "body"),
    [
        (django_post, _parts(([_DISPOSITION], ADULT), (["Content-Disposition: form-data; name*=UTF-8''to"], CHILD))),
        (django_post, _parts(([_DISPOSITION, "Content-Transfer-Encoding: base64"], _BASE64_KID))),
        (django_post, _parts(([_DISPOSITION], ADULT), (['Content-Disposition: form-data; name="to "'], CHILD))),
        (litestar_form, _parts(([_DISPOSITION], ADULT), (["Content-Disposition: form-data; name=to,"], CHILD))),
        (litestar_form, _parts(([_DISPOSITION, "Content-Type: text/plain; charset=utf-7"], _UTF7_KID))),
    ],
    ids=[
        "django-a-name-in-rfc-2231", "django-a-value-in-base64", "django-a-name-it-strips",
        "litestar-a-bare-name-it-cuts-short", "litestar-a-part-in-its-own-charset",
    ],
)
async def test_a_multipart_part_another_framework_reads_otherwise_is_refused(
    guard: Guard, django_settings: None, reading: Reading, body: bytes
) -> None:
    """Starlette's parser, ours, reads each of these parts' `to` as the adult (or as an
    account the stranger owns), or under another name; Django's `request.POST["to"]` (the
    last value) or Litestar's `request.form()` reads the child."""
    app = Messenger(reading)
    read = reading("multipart/form-data; boundary=XyZ", body)
    fields = await read if inspect.isawaitable(read) else read
    assert CHILD in (fields["to"] if isinstance(fields["to"], list) else [fields["to"]])
    middleware = await guard(app)
    runtime = await middleware.start()
    for account in (_BASE64_KID, _UTF7_KID):
        await runtime.bands.set(account, band=AgeBand.ADULT)
    headers = [("content-type", "multipart/form-data; boundary=XyZ")]
    answer = await call(middleware, "POST", "/dm", STRANGER, body, headers)
    assert answer.status == 400
    assert answer.problem_type() == "unreadable-body"
    assert app.delivered == []


@pytest.mark.parametrize("reading", [django_post, litestar_form], ids=["django", "litestar"])
async def test_a_multipart_message_as_browsers_send_it_reaches_the_app(
    guard: Guard, django_settings: None, reading: Reading
) -> None:
    app = Messenger(reading)
    body = _parts(
        ([_DISPOSITION, "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"], ADULT),
        (['Content-Disposition: form-data; name="text"'], "hi; name*=x\r\nContent-Transfer-Encoding: base64"),
    )
    headers = [("content-type", "multipart/form-data; boundary=XyZ")]
    answer = await call(await guard(app), "POST", "/dm", STRANGER, body, headers)
    assert answer.status == 201, answer.body
    assert app.delivered == [ADULT]


@pytest.mark.parametrize(
    "headers",
    [
        [("content-type", "application/json"), ("content-type", "application/json")],
        [("content-type", "application/json"), ("content-length", "21"), ("content-length", "21")],
        [("content-type", "application/json"), ("content-length", "21, 21")],
    ],
    ids=["one-type-twice", "one-length-twice", "one-length-listed-twice"],
)
async def test_a_header_repeated_with_the_same_value_is_one_value(guard: Guard, headers: list[tuple[str, str]]) -> None:
    app = Messenger()
    answer = await call(await guard(app), "POST", "/dm", STRANGER, b'{"to": "other-adult"}', headers, length=False)
    assert answer.status == 201, answer.body
    assert app.delivered == [ADULT]


READINGS = [form_first, json_first, starlette_like, charset_honouring]


@st.composite
def content_types(draw: st.DrawFn) -> str:
    """A `Content-Type` as clients and attackers write it: any case, spaces, charsets, other parameters."""
    media = draw(
        st.sampled_from(
            ["application/json", "application/x-www-form-urlencoded", "text/plain", "application/vnd.api+json", ""]
        )
    )
    media = "".join(c.upper() if draw(st.booleans()) else c for c in media)
    params = draw(st.lists(st.sampled_from([
        "charset=utf-8", "charset=UTF-8", 'charset="utf-8"', "charset=utf-16", "charset=latin-1",
        "charset=iso-8859-1", "charset=utf-32", "charset=bogus", "boundary=x", "q=1",
    ]), max_size=2))
    return "".join([media, *(draw(st.sampled_from([";", "; ", " ;"])) + p for p in params)])


@st.composite
def bodies(draw: st.DrawFn, recipient: str) -> tuple[bytes, bool]:
    """(a body naming `recipient`, whether it is JSON) in the encodings apps read."""
    if draw(st.booleans()):
        text = json.dumps({"to": recipient, "text": "hi"}, indent=draw(st.sampled_from([None, 1])))
        return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"]))), True
    return draw(st.sampled_from([f"to={recipient}&text=hi", f"text=hi&to={recipient}"])).encode(), False


HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
async def every_reading(guard: Guard) -> list[tuple[Messenger, SafeAccountsMiddleware]]:
    apps = [Messenger(reading) for reading in READINGS]
    return [(app, await guard(app)) for app in apps]


@HYPOTHESIS
@given(content_type=content_types(), body=bodies(CHILD))
async def test_no_spelling_of_the_content_type_gets_a_strangers_message_to_a_child(
    every_reading: list[tuple[Messenger, SafeAccountsMiddleware]], content_type: str, body: tuple[bytes, bool]
) -> None:
    for app, middleware in every_reading:
        answer = await call(middleware, "POST", "/dm", STRANGER, body[0], [("content-type", content_type)])
        assert answer.status in (400, 403), (app.reading.__name__, answer.status)
        assert CHILD not in app.delivered, app.reading.__name__


@HYPOTHESIS
@given(content_type=content_types(), body=bodies(ADULT))
async def test_no_spelling_of_the_content_type_stops_a_message_between_adults(
    every_reading: list[tuple[Messenger, SafeAccountsMiddleware]], content_type: str, body: tuple[bytes, bool]
) -> None:
    data, is_json = body
    typed_json = content_type.split(";")[0].strip().lower() in ("application/json", "application/vnd.api+json")
    if typed_json and not is_json:
        return  # a form typed as JSON: refused as unreadable JSON (see below), whoever it names
    for app, middleware in every_reading:
        answer = await call(middleware, "POST", "/dm", STRANGER, data, [("content-type", content_type)])
        assert answer.problem_type() is None, (app.reading.__name__, answer.body)


async def test_a_form_typed_as_json_is_refused_as_unreadable(guard: Guard) -> None:
    answer = await call(
        await guard(Messenger(json_first)),
        "POST",
        "/dm",
        STRANGER,
        b"to=other-adult",
        [("content-type", "Application/JSON")],
    )
    assert answer.status == 400
    assert answer.problem_type() == "unreadable-body"


# --- class 2 (c): object keys ---------------------------------------------------------------


async def test_a_child_named_as_a_key_where_a_list_was_expected_is_checked(guard: Guard) -> None:
    app = Messenger()
    middleware = await guard(app)
    answer = await call(middleware, "POST", "/groups", STRANGER, *as_json({"members": {CHILD: "member"}}))
    assert answer.status == 403
    # Values that are no account at all (`true`) are not read as one: refused as unreadable.
    answer = await call(middleware, "POST", "/groups", STRANGER, *as_json({"members": {CHILD: True}}))
    assert answer.status == 400
    assert app.delivered == []


async def test_a_route_whose_maps_are_keyed_by_account_reads_only_the_keys(guard: Guard) -> None:
    app = Messenger()
    middleware = await guard(app)
    answer = await call(middleware, "POST", "/keyed-groups", STRANGER, *as_json({"members": {ADULT: True}}))
    assert answer.status == 201
    answer = await call(
        middleware, "POST", "/keyed-groups", STRANGER, *as_json({"members": {ADULT: True, CHILD: True}})
    )
    assert answer.status == 403


async def test_lists_inside_an_object_are_filtered_item_by_item(guard: Guard) -> None:
    """A wildcard walks an object's values on the way to a list; only list items are removed."""
    answer = await call(await guard(Messenger()), "GET", "/people", STRANGER, length=False)
    assert answer.status == 200
    assert json.loads(answer.body) == {"groups": {"g1": {"members": [{"id": ADULT}]}}}


# --- class 7: unreadable is 400 -------------------------------------------------------------


def deep(levels: int) -> bytes:
    return b'{"to": "kid", "x": ' + b"[" * levels + b"]" * levels + b"}"


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded"])
async def test_json_nested_thousands_deep_is_an_unreadable_body_not_try_again(guard: Guard, content_type: str) -> None:
    app = Messenger()
    answer = await call(await guard(app), "POST", "/dm", STRANGER, deep(5000), [("content-type", content_type)])
    assert answer.status == 400
    assert answer.problem_type() == "unreadable-body"
    assert app.delivered == []


async def test_json_nested_deep_but_within_reach_is_read(guard: Guard) -> None:
    answer = await call(
        await guard(Messenger()), "POST", "/dm", STRANGER, deep(200), [("content-type", "application/json")]
    )
    assert answer.status == 403


def test_a_websocket_frame_too_deep_to_read_is_unparseable() -> None:
    frame = {"type": "websocket.receive", "text": deep(5000).decode()}
    assert parse_frame(frame, ('"to"',)) is UNPARSEABLE
