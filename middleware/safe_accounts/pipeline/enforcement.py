"""One protected request, from identity to the (possibly rewritten) response.

Created per request by the middleware once the route table has matched; everything per
request lives here, never on the middleware. The order of work is fixed:

1. who is acting; 2. the body, read once and replayed to the app byte for byte;
3. the targets; 4. bands, restriction, relationships (cached, batched, within the
time budget); 5. the verdict; 6. answer, or call the app (rewriting its JSON response
for discovery and redaction); 7. decision-log rows and signal events, queued, never
awaited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser

from .._types import ASGIApp, Receive, Scope, Send
from ..decide.budget import within
from ..decide.failing import refuses as refuses_on_failure
from ..decide.fixed import decide_fixed
from ..decide.ids import keeps
from ..decide.refusal import UNAVAILABLE, Refusal
from ..decide.request import decide, undecided
from ..decide.rules import PairVerdict, Party
from ..errors import StorageError
from ..policy.model import EventKind, Mode, Outcome
from ..runtime import Runtime
from . import late_facts, problem, records
from .app_call import AppError
from .body import Body, BodyTooLarge, BodyUnreadable, read_body, replay
from .caching import personal, unconditional
from .capture import ResponseCapture, Unreadable, for_reading
from .compiled import CompiledResponse, CompiledRoute
from .ids import ids_at
from .jsondoc import objects, walk
from .lists import filter_lists
from .readings import multipart_part_read_otherwise, read_as_sent, read_every_way
from .request_view import NO_JSON, BodyNotParsed, RequestView, parse_json
from .targets import TargetsUnread, TargetUnkept, TooManyCombinations

logger = logging.getLogger("safe_accounts.enforcement")

LOOKUP_FAILED = "safety check for route %s failed (%s): %s"
REWRITE_MISSED = "route %s: response could not be read (%s)"
TARGETS_MISSING = "route %s: no target account found in the request"
TARGETS_UNREAD = "route %s: refused, no target account could be read from the request"
TARGET_UNKEPT = "route %s: refused, a target account's id is too long to keep"
ACTOR_UNKEPT = "route %s: refused, the acting account's id is too long to keep"

_READS = frozenset({"GET", "HEAD"})
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class Enforcement:
    __slots__ = ("app", "rt", "route", "scope", "receive", "send", "view", "now", "handed_over", "unread", "reread")

    def __init__(
        self,
        app: ASGIApp,
        rt: Runtime,
        route: CompiledRoute,
        params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
        actor: str | None,
    ) -> None:
        """`actor`: who is acting, as the policy's identity named them (None: anonymous)."""
        self.app = app
        self.rt = rt
        self.route = route
        self.scope = scope
        self.receive = receive
        self.send = send
        self.now = rt.clock.now()
        self.view = RequestView.of(scope, params, actor)
        if route.personal:
            # The answer depends on who asks: private to the viewer, and the app is never
            # asked to revalidate a body the viewer may not see (`caching.py`). A write on
            # the same route keeps its preconditions (`If-Match` guards a PUT, reveals nothing).
            if self.view.method.upper() in _READS:
                self.scope = unconditional(scope)
            self.send = personal(send, rt.policy.vary)
        # Set once the app has the request or our own answer has begun: from then on a
        # failure of ours must not start a second answer.
        self.handed_over = False
        # Set when a lookup failed and the request went on without its facts: what it
        # records waits for the writer to read them (`late_facts.py`); `reread` reads the
        # targets again when it was their lookup that failed.
        self.unread = False
        self.reread: Callable[[], Awaitable[Sequence[str]]] | None = None

    # --- entry ---------------------------------------------------------------------------

    async def run(self) -> None:
        route = self.route
        if not keeps(self.view.actor):  # before any store is read: see `decide.ids.keeps`
            logger.info(ACTOR_UNKEPT, route.name)
            await self._refuse(problem.ACTOR_UNREADABLE)
            return
        if route.fixed is not None:  # an endpoint that only ever refuses: nothing to read
            await self._fixed()
            return
        if route.reads_body and self.view.method.upper() not in _BODYLESS and not await self._read_body():
            return
        targets: list[str] = []
        try:
            if not route.spec.targets_in_answer:  # a search's targets are in its answer
                if route.targets.needs_io:
                    async with within(self.rt.facts.time_budget):
                        targets = await route.targets.extract(self.view)
                else:
                    targets = route.targets.extract_now(self.view)
                if not targets and route.targets.sources:
                    logger.info(TARGETS_MISSING, route.name)
            decision = await decide(self.rt.facts, route.rules, self.view.actor, targets)
        except TooManyCombinations:
            await self._refuse(problem.TOO_MANY_ACCOUNTS)
            return
        except TargetUnkept:
            logger.info(TARGET_UNKEPT, route.name)
            await self._refuse(problem.TARGET_UNREADABLE)
            return
        except TargetsUnread:
            # Whatever the app reads as the target, we could not: refused, never let through.
            logger.info(TARGETS_UNREAD, route.name)
            await self._refuse(problem.TARGET_UNREADABLE)
            return
        except StorageError as exc:
            await self._failed(exc, targets)
            return
        decisive = decision.decisive
        if decisive is None and route.passes_through_when_allowed:
            # The every-day answer (no rule applies; nothing to rewrite or record after):
            # the app with the client's own `send`.
            await self._call_app(self.send)
            return
        decision_id, refusal = await records.judged(
            self.rt, spec=route.spec, route=route.name, at=self.now, decision=decision
        )
        if refusal is not None:
            await self._refuse(refusal)
            return
        redact = (
            decisive is not None and decisive.verdict.mode is Mode.ENFORCE
            and decisive.verdict.outcome is Outcome.REDACT
        )
        await self._go_on(decision.actor, decision.pairs, redact, decision_id)

    async def _fixed(self) -> None:
        assert self.route.fixed is not None
        decision = await decide_fixed(self.rt.facts, self.route.fixed, self.view.actor)
        _, refusal = await records.judged(
            self.rt, spec=self.route.spec, route=self.route.name, at=self.now, decision=decision
        )
        if refusal is not None:
            await self._refuse(refusal)
        else:  # monitor mode: logged, and the app answers
            await self._call_app(self.send)

    async def _go_on(self, actor: Party, pairs: Sequence[PairVerdict], redact: bool, decision_id: str | None) -> None:
        """The app answers: its answer read, rewritten or watched as the route needs."""
        route = self.route
        shape = route.response
        if route.spec.answers_request and shape is not None and not route.targets.sources:
            await self._call_app_reading_requester(actor, shape)
        elif shape is not None and (redact or shape.lists or (route.spec.targets_in_answer and shape.items)):
            await self._call_app_rewriting(actor, pairs, shape, redact, decision_id)
        else:
            await self._call_app_then_record(actor, pairs, decision_id)

    # --- the body ----------------------------------------------------------------------

    async def _read_body(self) -> bool:
        try:
            body = await read_body(self.scope, self.receive, self.route.max_body_bytes)
        except BodyTooLarge:
            await self._refuse(problem.TOO_LARGE)
            return False
        except BodyUnreadable as exc:
            await self._refuse(problem.unreadable_body(str(exc)))
            return False
        self.receive = replay(body.raw, self.receive)
        empty = not body.inspectable or body.inspectable.isspace()
        if empty and not body.coded:
            return True  # nothing to read targets from
        try:
            if not empty:
                self._parse(body)
                if body.content_type == "multipart/form-data":
                    self.view.form = [*await _multipart(self.scope, body), *(self.view.form or ())]
            if body.coded:
                self._read_as_sent(body)
        except BodyNotParsed as exc:
            await self._refuse(problem.unreadable_body(str(exc)))
            return False
        return True

    def _parse(self, body: Body) -> None:
        """Read the body every way a plausible app reads it (`readings.py`); the targets
        are the union of the readings."""
        if body.plain_json:
            # Typed exactly `application/json`: every framework reads it one way.
            self.view.json = parse_json(body, self.route.json_keys)
            return
        view = self.view
        view.json, view.json_also, view.form = read_every_way(body, self.route.json_keys)

    def _read_as_sent(self, body: Body) -> None:
        """A coded body's bytes as sent, read too (`readings.read_as_sent`): an app that does
        not undo the coding acts on them, and they may hold fields its decoding does not."""
        view = self.view
        documents, fields = read_as_sent(body, self.route.json_keys)
        if documents:
            if view.json is NO_JSON:
                view.json, documents = documents[0], documents[1:]
            view.json_also = (*view.json_also, *documents)
        if fields:
            view.form = [*(view.form or ()), *fields]
        multipart = body.content_type == "multipart/form-data"
        if multipart and any(b"--" + boundary in body.raw for boundary in _boundaries(self.scope)):
            # A parser that skips a preamble (Django's) finds parts after the compressed
            # bytes, and ours does not read past them: what we cannot read, we refuse.
            raise BodyNotParsed("a compressed multipart body with parts outside its compressed data")

    # --- answers -------------------------------------------------------------------------

    async def _refuse(self, refusal: Refusal) -> None:
        self.handed_over = True
        if refusal.hidden:
            # The app's own answer for an id that does not exist, byte for byte: no rule
            # name, no decision header (the decision log has both).
            await self.route.not_found.send(self.send, self.view)
            return
        await problem.send_problem(self.send, refusal)

    async def _failed(self, exc: StorageError, targets: Sequence[str]) -> None:
        logger.warning(LOOKUP_FAILED, self.route.name, exc.__class__.__name__, str(exc) or exc.__class__.__name__)
        route = self.route
        # A discovery's targets are in its answer; a route that found none may have failed
        # finding them: either way they are unknown, and could be anyone.
        known = None if route.spec.targets_in_answer or (not targets and route.targets.sources) else targets
        if refuses_on_failure(self.rt.facts, route.rules, self.view.actor, known):
            await self._refuse(UNAVAILABLE)
            return
        # Failing open (no enforced, fail-closed rule could apply: monitor rules never refuse):
        # the app answers as if no rule applied, lists in its answer are still filtered, and
        # what it accepted is still recorded (a block, a report, a rejection): queued with
        # what is known, for the writer to read the facts this request could not.
        self.unread = True
        if known is None and route.targets.needs_io and not route.spec.targets_in_answer:
            view = self.view
            self.reread = lambda: route.targets.extract(view)
        decision = undecided(self.view.actor, targets)
        await self._go_on(decision.actor, decision.pairs, False, None)

    # --- calling the app -----------------------------------------------------------------

    async def _call_app(self, send: Send, scope: Scope | None = None) -> None:
        self.handed_over = True
        try:
            await self.app(self.scope if scope is None else scope, self.receive, send)
        except Exception as exc:  # the app's own: re-raised as is by the middleware
            raise AppError(exc) from exc

    async def _call_app_then_record(self, actor: Party, pairs: Sequence[PairVerdict], decision_id: str | None) -> None:
        if not self.route.spec.acts_on_success or actor.id is None:
            await self._call_app(self.send)  # nothing to record after: no need to watch
            return
        status: list[int] = []
        send = self._client_send(actor, pairs)

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self._call_app(watch)
        if status and _succeeded(status[0]):
            await self._events_after_success(actor, pairs, decision_id)

    async def _call_app_rewriting(
        self, actor: Party, pairs: Sequence[PairVerdict], shape: CompiledResponse, redact: bool, decision_id: str | None
    ) -> None:
        """Call the app and rewrite its JSON: redact the profile, filter every list of people."""
        lists = list(shape.lists)
        in_answer = self.route.spec.targets_in_answer
        if in_answer and shape.items is not None:
            lists.insert(0, shape.items)
        notice_field = shape.notice_field if in_answer else None

        async def rewrite(document: Any, status: int) -> tuple[Any, list[tuple[bytes, bytes]]] | None:
            if not 200 <= status < 300:
                return None
            changed = False
            headers: list[tuple[bytes, bytes]] = []
            # The profiles the answer holds, where the policy says: else (rows `[{...}]` where
            # one object was expected, as REST layers answer on request) they may be anywhere.
            # Walked only when read: on a discovery route `items` is the page, every item of it.
            profiles: list[Any] = []
            if not in_answer or (redact and decision_id is not None):
                profiles = [
                    p for p in ([document] if shape.items is None else walk(document, shape.items))
                    if isinstance(p, dict)
                ]
            if redact and decision_id is not None:
                if not profiles and any(name in node for node in objects(document) for name in shape.redact):
                    raise Unreadable("response does not hold the profile where the policy says")
                for profile in profiles:
                    for name in shape.redact:
                        changed = profile.pop(name, _REMOVED) is not _REMOVED or changed
                headers.append((problem.DECISION_HEADER, decision_id.encode()))
            filtered, list_decision, notices = await filter_lists(
                self.rt, route=self.route.name, rules=self.route.lists, at=self.now, actor=actor, document=document,
                lists=lists, id_path=shape.id, notice_field=notice_field,
                answer_list=in_answer and shape.items is not None, profile_found=in_answer or bool(profiles),
            )
            changed = changed or filtered
            if list_decision is not None and not redact:
                headers.append((problem.DECISION_HEADER, list_decision.encode()))
            if notices:
                headers.append((problem.NOTICE_HEADER, b"unknown-contact"))
            return (document if changed else None), headers

        # Strict: an enforced rule would change this answer, so one we cannot read is refused.
        strict = redact or self.route.filters_lists
        capture = ResponseCapture(
            self._client_send(actor, pairs), rewrite,
            fail_closed=self.route.lists.fails_closed or redact,
            strict=strict, head=self.scope.get("method") == "HEAD",
        )
        await self._call_app(capture.send, for_reading(self.scope) if strict else None)
        self._note_miss(capture)
        if capture.status is not None and _succeeded(capture.status) and capture.error is None:
            await self._events_after_success(actor, pairs, decision_id)

    async def _call_app_reading_requester(self, responder: Party, shape: CompiledResponse) -> None:
        """contact_response where only the app's answer names the requester (`response.id`,
        e.g. `from.id` of the request it returns): read it from the JSON, change nothing."""
        requesters: list[str] = []

        async def read(document: Any, status: int) -> None:
            requesters.extend(ids_at(document, shape.id))
            return

        # Read, never refused: the app has already acted, and the answer hides nobody.
        capture = ResponseCapture(self.send, read, fail_closed=False)
        await self._call_app(capture.send, for_reading(self.scope))
        self._note_miss(capture)
        if capture.status is not None and _succeeded(capture.status) and requesters:
            # The requesters' bands are not read: the answer records an event about them.
            named = undecided(responder.id, [r for r in requesters if r != responder.id])
            await self._contact_response(responder, named.pairs)

    def _client_send(self, actor: Party, pairs: Sequence[PairVerdict]) -> Send:
        """The client's `send`; on a block route, one that makes every worker forget the
        pair before the app's successful answer starts, so that no DM decided after the
        block was answered can use the relationship cached before it."""
        if not self.route.spec.forgets_pair_first or actor.id is None:
            return self.send
        accounts = [actor.id, *(p.target.id for p in pairs if p.target.id is not None)]
        send, relationships = self.send, self.rt.relationships

        async def forget_then_send(message: Any) -> None:
            if message["type"] == "http.response.start" and _succeeded(message["status"]):
                await relationships.forget_everywhere(accounts)
            await send(message)

        return forget_then_send

    def _note_miss(self, capture: ResponseCapture) -> None:
        if capture.miss is not None:
            logger.warning(REWRITE_MISSED, self.route.name, capture.miss)
            self.rt.misses[self.route.name] = self.rt.misses.get(self.route.name, 0) + 1

    # --- records -------------------------------------------------------------------------

    async def _events_after_success(self, actor: Party, pairs: Sequence[PairVerdict], decision_id: str | None) -> None:
        if self.route.spec.answers_request:
            await self._contact_response(actor, pairs)
            return
        read = self.route.report_text
        words = [v for v in read(self.view) if isinstance(v, str)] if read is not None else []
        await records.record_success(
            self.rt, spec=self.route.spec, at=self.now, actor=actor, pairs=pairs, decision_id=decision_id,
            report_text=words[0] if words else None, read=not self.unread,
        )

    async def _contact_response(self, responder: Party, pairs: Sequence[PairVerdict]) -> None:
        answer = self.route.answer
        if answer is None or responder.id is None:
            return
        words = {str(v).strip().lower() for v in answer.read(self.view)}
        if words & answer.reject:
            kind = EventKind.CONTACT_REJECTED
        elif words & answer.accept:
            kind = EventKind.CONTACT_ACCEPTED
        else:
            return
        # An answer connects (or keeps apart) the pair: every worker forgets it (every
        # spelling the cache may hold).
        await self.rt.relationships.forget_everywhere([p.target.id for p in pairs if p.target.id is not None])
        if not pairs and self.reread is not None:  # whom it answers is still to be read
            late_facts.answer_events(
                self.rt, kind, responder=responder, at=self.now, requesters=self.reread,
                mutual_wanted=records.mutual_wanted(self.rt, kind),
            )
            return
        await records.record_answer(
            self.rt, kind=kind, at=self.now, responder=responder, requesters=pairs, read=not self.unread
        )


_REMOVED = object()


def _succeeded(status: int) -> bool:
    """A 2xx, or 303 See Other: the post-redirect-get answer of a form that worked."""
    return 200 <= status < 300 or status == 303


def _boundaries(scope: Scope) -> list[bytes]:
    """Every multipart boundary the request's `Content-Type` could be read to name (a
    parameter written twice: a parser may take either)."""
    found: list[bytes] = []
    for key, value in scope.get("headers") or ():
        if key == b"content-type":
            for param in value.split(b";")[1:]:
                name, _, boundary = param.partition(b"=")
                boundary = boundary.strip().strip(b'"')
                if name.strip().lower().rstrip(b"*") == b"boundary" and boundary:
                    found.append(boundary)
    return found


async def _multipart(scope: Scope, body: Body) -> list[tuple[str, str]]:
    async def stream() -> Any:
        yield body.inspectable
        yield b""

    try:
        form = await MultiPartParser(Headers(scope=scope), stream()).parse()
    except MultiPartException as exc:
        raise BodyNotParsed(f"multipart body is malformed: {exc.message}") from exc
    boundaries = _boundaries(scope)
    if not boundaries:
        await form.close()
        raise BodyNotParsed("a multipart body whose boundary we cannot find")
    for boundary in boundaries:
        why = multipart_part_read_otherwise(body.inspectable, boundary, body.charset)
        if why is not None:
            await form.close()
            raise BodyNotParsed(why)
    try:
        return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    finally:
        await form.close()
