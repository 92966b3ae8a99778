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

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser

from .._types import ASGIApp, Receive, Scope, Send
from ..bands.age import AgeBand
from ..errors import StorageError
from .compiled import RECORDED_ON_SUCCESS, CompiledResponse, CompiledRoute
from ..policy.engine import ALLOW, CompiledRule, Party, Relation
from ..policy.model import Action, EventKind, Mode, Outcome
from ..runtime import Runtime
from . import fixed, problem, records
from .app_call import AppError
from .body import Body, BodyTooLarge, BodyUnreadable, read_body, replay
from .caching import personal, unconditional
from .capture import ResponseCapture, for_reading
from .facts import PairVerdict, assess, assess_cached, strongest
from .failing import refuses as refuses_on_failure
from .ids import ids_at
from .lists import filter_lists, is_minor
from .jsondoc import walk
from ..policy.jsonpath import compile_path
from .readings import read_every_way
from .request_view import BodyNotParsed, RequestView, parse_json
from .targets import TargetsUnread, TooManyCombinations

logger = logging.getLogger("safe_accounts.enforcement")

LOOKUP_FAILED = "safety check for route %s failed (%s): %s"
REWRITE_MISSED = "route %s: response could not be read (%s)"
TARGETS_MISSING = "route %s: no target account found in the request"
TARGETS_UNREAD = "route %s: refused, no target account could be read from the request"

_READS = frozenset({"GET", "HEAD"})
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_EVENT_OF_ACTION = {
    Action.CONTACT_REQUEST: EventKind.CONTACT_REQUEST,
    Action.BLOCK: EventKind.BLOCKED,
    Action.REPORT: EventKind.REPORTED,
}
_STATUS = records.STATUS


class Enforcement:
    __slots__ = ("app", "rt", "route", "scope", "receive", "send", "view", "now", "handed_over")

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

    # --- entry ---------------------------------------------------------------------------

    async def run(self) -> None:
        route = self.route
        if route.fixed is not None:  # an endpoint that only ever refuses: nothing to read
            await self._fixed(route.fixed)
            return
        if route.reads_body and self.view.method.upper() not in _BODYLESS:
            if not await self._read_body():
                return
        targets: list[str] = []
        try:
            if route.action is not Action.DISCOVERY:  # a search's targets are in its answer
                if route.targets.needs_io:
                    async with asyncio.timeout(self.rt.policy.defaults.time_budget_ms / 1000):
                        targets = await route.targets.extract(self.view)
                else:
                    targets = route.targets.extract_now(self.view)
                if not targets and route.targets.sources:
                    logger.info(TARGETS_MISSING, route.name)
            # Warm caches answer without a coroutine or a timer; a miss goes to the stores.
            known = assess_cached(self.rt, route.rules, self.view.actor, targets)
            actor, pairs = known if known is not None else await assess(self.rt, route.rules, self.view.actor, targets)
        except TooManyCombinations:
            await self._refuse(problem.UNREADABLE, 400, "The request names too many accounts to check.")
            return
        except TargetsUnread:
            # Whatever the app reads as the target, we could not: refused, never let through.
            logger.info(TARGETS_UNREAD, route.name)
            await self._refuse(problem.TARGET_UNREADABLE, 400, problem.TARGET_UNREADABLE_DETAIL)
            return
        except (StorageError, TimeoutError, OSError) as exc:
            await self._failed(exc, targets)
            return

        decisive = strongest(pairs)
        if decisive is None and route.passes_through_when_allowed:
            # The every-day answer (no rule applies; nothing to rewrite or record after):
            # the app with the client's own `send`.
            await self._call_app(self.send)
            return
        decision_id = self._log(actor, pairs) if decisive is not None else None
        redact = False
        if decisive is not None and decisive.verdict.mode is Mode.ENFORCE:
            outcome = decisive.verdict.outcome
            if outcome in _STATUS:
                self._events_for_refusal(actor, pairs, decision_id)
                await self._answer(outcome, decisive, decision_id)
                return
            redact = outcome is Outcome.REDACT
        shape = route.response
        if route.action is Action.CONTACT_RESPONSE and shape is not None and not route.targets.sources:
            await self._call_app_reading_requester(actor, shape)
            return
        if shape is not None and (redact or shape.lists or (route.action is Action.DISCOVERY and shape.items)):
            await self._call_app_rewriting(actor, pairs, shape, redact, decision_id)
            return
        await self._call_app_then_record(actor, pairs, decision_id)

    # --- the body ----------------------------------------------------------------------

    async def _read_body(self) -> bool:
        try:
            body = await read_body(self.scope, self.receive, self.route.max_body_bytes)
        except BodyTooLarge:
            await self._refuse(problem.TOO_LARGE, 413, "The request body is over the size this route accepts.")
            return False
        except BodyUnreadable as exc:
            await self._refuse(problem.UNREADABLE, 400, f"The request body could not be checked: {exc}.")
            return False
        self.receive = replay(body.raw, self.receive)
        if not body.inspectable or body.inspectable.isspace():
            return True  # nothing to read targets from
        try:
            self._parse(body)
            if body.content_type == "multipart/form-data":
                self.view.form = [*await _multipart(self.scope, body), *(self.view.form or ())]
        except BodyNotParsed as exc:
            await self._refuse(problem.UNREADABLE, 400, f"The request body could not be checked: {exc}.")
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

    # --- answers -------------------------------------------------------------------------

    async def _refuse(self, kind: tuple[str, str], status: int, detail: str, **extra: Any) -> None:
        self.handed_over = True
        await problem.send_problem(self.send, kind[0], kind[1], status, detail, **extra)

    async def _answer(self, outcome: Outcome, pair: PairVerdict, decision_id: str) -> None:
        rule = pair.verdict.rule
        assert rule is not None
        if outcome is Outcome.HIDE:
            # The app's own answer for an id that does not exist, byte for byte: no rule
            # name, no decision header (the decision log has both).
            self.handed_over = True
            await self.route.not_found.send(self.send, self.view)
            return
        self.handed_over = True
        await problem.send_problem(
            self.send, problem.DENIED[0], problem.DENIED[1], 403, rule.detail,
            decision_id=decision_id, rule=rule.public_id,
        )

    async def _fixed(self, rule: CompiledRule) -> None:
        pair, decision_id = await fixed.decide(
            self.rt, rule, action=self.route.action, route=self.route.name, actor_id=self.view.actor, at=self.now
        )
        if rule.mode is Mode.ENFORCE:
            await self._answer(rule.outcome, pair, decision_id)
        else:
            await self._call_app(self.send)

    async def _failed(self, exc: BaseException, targets: Sequence[str]) -> None:
        reason = "time budget exceeded" if isinstance(exc, TimeoutError) else str(exc) or exc.__class__.__name__
        logger.warning(LOOKUP_FAILED, self.route.name, exc.__class__.__name__, reason)
        route = self.route
        # A discovery's targets are in its answer; a route that found none may have failed
        # finding them: either way they are unknown, and could be anyone.
        known = None if route.action is Action.DISCOVERY or (not targets and route.targets.sources) else targets
        if refuses_on_failure(self.rt, route.rules, self.view.actor, known):
            await self._refuse(
                problem.UNAVAILABLE, 503,
                "A safety check could not be completed. Please try again shortly.",
            )
            return
        # Failing open (no enforced, fail-closed rule could apply: monitor rules never refuse):
        # the app answers as if no rule applied, lists in its answer are still filtered, and
        # what it accepted is still recorded (a block, a report, a rejection), with the bands
        # that could not be read as `unknown` - which the protective default counts as a minor's.
        actor = Party(self.view.actor, AgeBand.UNKNOWN)
        pairs = [PairVerdict(Party(t, AgeBand.UNKNOWN), ALLOW, Relation()) for t in targets]
        shape = route.response
        if route.action is Action.CONTACT_RESPONSE and shape is not None and not route.targets.sources:
            await self._call_app_reading_requester(actor, shape)
        elif shape is not None and (shape.lists or (route.action is Action.DISCOVERY and shape.items)):
            await self._call_app_rewriting(actor, pairs, shape, False, None)
        else:
            await self._call_app_then_record(actor, pairs, None)

    # --- calling the app -----------------------------------------------------------------

    async def _call_app(self, send: Send, scope: Scope | None = None) -> None:
        self.handed_over = True
        try:
            await self.app(self.scope if scope is None else scope, self.receive, send)
        except Exception as exc:  # noqa: BLE001 - the app's own: re-raised as is by the middleware
            raise AppError(exc) from exc

    async def _call_app_then_record(self, actor: Party, pairs: Sequence[PairVerdict], decision_id: str | None) -> None:
        if self.route.action not in RECORDED_ON_SUCCESS or actor.id is None:
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
        if self.route.action is Action.DISCOVERY and shape.items is not None:
            lists.insert(0, shape.items)
        notice_field = shape.notice_field if self.route.action is Action.DISCOVERY else None

        async def rewrite(document: Any, status: int) -> tuple[Any, list[tuple[bytes, bytes]]] | None:
            if not 200 <= status < 300:
                return None
            changed = False
            headers: list[tuple[bytes, bytes]] = []
            if redact and decision_id is not None:
                for profile in [document] if shape.items is None else list(walk(document, shape.items)):
                    if isinstance(profile, dict):
                        for name in shape.redact:
                            changed = profile.pop(name, _REMOVED) is not _REMOVED or changed
                headers.append((problem.DECISION_HEADER, decision_id.encode()))
            filtered, list_decision, notices = await filter_lists(
                self.rt, route=self.route.name, at=self.now, actor=actor, document=document,
                lists=lists, id_path=shape.id, notice_field=notice_field,
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
            fail_closed=self.rt.policy.rules[Action.DISCOVERY].fails_closed or redact,
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
            return None

        # Read, never refused: the app has already acted, and the answer hides nobody.
        capture = ResponseCapture(self.send, read, fail_closed=False)
        await self._call_app(capture.send, for_reading(self.scope))
        self._note_miss(capture)
        if capture.status is not None and _succeeded(capture.status) and requesters:
            pairs = [PairVerdict(Party(r, AgeBand.UNKNOWN), ALLOW, Relation()) for r in requesters if r != responder.id]
            await self._contact_response(responder, pairs)

    def _client_send(self, actor: Party, pairs: Sequence[PairVerdict]) -> Send:
        """The client's `send`; on a block route, one that makes every worker forget the
        pair before the app's successful answer starts, so that no DM decided after the
        block was answered can use the relationship cached before it."""
        if self.route.action is not Action.BLOCK or actor.id is None:
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

    def _log(self, actor: Party, pairs: Sequence[PairVerdict], *, affected_by_rule: bool = False) -> str | None:
        return records.log_decision(
            self.rt, action=self.route.action, route=self.route.name, at=self.now,
            actor=actor, pairs=pairs, affected_by_rule=affected_by_rule,
        )

    def _events_for_refusal(self, actor: Party, pairs: Sequence[PairVerdict], decision_id: str) -> None:
        records.record_refusal(
            self.rt, action=self.route.action, at=self.now, actor=actor, pairs=pairs, decision_id=decision_id
        )

    async def _events_after_success(self, actor: Party, pairs: Sequence[PairVerdict], decision_id: str | None) -> None:
        rt = self.rt
        action = self.route.action
        if actor.id is None:
            return
        if action is Action.CONTACT_RESPONSE:
            await self._contact_response(actor, pairs)
            return
        # One report, one event per account, however many ways the request spelt it.
        accounts = records.per_account(rt, pairs)
        if action is Action.REPORT:
            self._record_reports(actor, accounts, decision_id)
        kind = _EVENT_OF_ACTION.get(action)
        if kind is None or rt.signals is None:
            return
        for pair in accounts:
            target = pair.target
            if not records.counts_as_account(rt, target):
                continue
            assert target.id is not None
            if action is Action.CONTACT_REQUEST:
                mutual = pair.relation.mutual
                if mutual is None and is_minor(target, rt):
                    mutual = await self._mutual_quietly(actor.id, target.id)
                self._submit(kind, actor.id, target, mutual, decision_id)
            else:
                # Blocks and reports count against the account blocked or reported: the
                # target is the subject, the actor (often the child) is the other.
                self._submit(kind, target.id, actor, None, decision_id)

    def _record_reports(self, reporter: Party, pairs: Sequence[PairVerdict], decision_id: str | None) -> None:
        """A report becomes a child-endangerment report in the moderation queue: one per
        account reported (`pairs` are `records.per_account`'s), with the reporter's words
        when the route names them (`report_text`)."""
        reports = self.rt.extras.get("reports")
        if reports is None or reporter.id is None:
            return
        spec = self.route.report_text
        words = [v for v in _reference_values(self.view, spec) if isinstance(v, str)] if spec else []
        for pair in pairs:
            if pair.target.id is not None:
                reports.record(
                    reporter_id=reporter.id, reporter_band=reporter.band.value,
                    reported_id=pair.target.id, reported_band=pair.target.band.value,
                    at=self.now, decision_id=decision_id, text=words[0] if words else None,
                )

    async def _contact_response(self, responder: Party, pairs: Sequence[PairVerdict]) -> None:
        answer = self.route.answer
        if answer is None:
            return
        values = _reference_values(self.view, answer.field)
        words = {str(v).strip().lower() for v in values}
        if words & answer.reject:
            kind = EventKind.CONTACT_REJECTED
        elif words & answer.accept:
            kind = EventKind.CONTACT_ACCEPTED
        else:
            return
        # An acceptance connects the pair: every worker forgets it (every spelling the
        # cache may hold).
        await self.rt.relationships.forget_everywhere([p.target.id for p in pairs if p.target.id is not None])
        if self.rt.signals is None:
            return
        for pair in records.per_account(self.rt, pairs):
            if pair.target.id is not None:
                self._submit(kind, pair.target.id, responder, None, None)

    async def _mutual_quietly(self, actor: str, target: str) -> int | None:
        try:
            async with asyncio.timeout(self.rt.policy.defaults.time_budget_ms / 1000):
                return await self.rt.relationships.mutual(actor, target)
        except (StorageError, TimeoutError, OSError):
            return None

    def _submit(self, kind: EventKind, subject: str, other: Party, mutual: int | None, decision_id: str | None) -> None:
        records.submit(self.rt, kind, subject, other, mutual, self.now, decision_id)


_REMOVED = object()


def _succeeded(status: int) -> bool:
    """A 2xx, or 303 See Other: the post-redirect-get answer of a form that worked."""
    return 200 <= status < 300 or status == 303


def _reference_values(view: RequestView, spec: str) -> list[Any]:
    where, _, name = spec.partition(".")
    if where == "path":
        value = view.path_params.get(name)
        return [] if value is None else [value]
    if where == "query":
        return view.query_values(name)
    if where == "form":
        return view.form_values(name)
    if where == "json":
        return list(walk(view.json, compile_path(name))) if isinstance(view.json, (dict, list)) else []
    return []


async def _multipart(scope: Scope, body: Body) -> list[tuple[str, str]]:
    async def stream() -> Any:
        yield body.inspectable
        yield b""

    try:
        form = await MultiPartParser(Headers(scope=scope), stream()).parse()
    except MultiPartException as exc:
        raise BodyNotParsed(f"multipart body is malformed: {exc.message}") from exc
    try:
        return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    finally:
        await form.close()
