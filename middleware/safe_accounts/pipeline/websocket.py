"""Direct messages over WebSocket: the handshake check and the frame filter (issue 9).

Created per connection by the middleware when a `WEBSOCKET` route matches; everything
per connection lives here. Two levels, both decided with the same rule sets and facts
as HTTP (`facts.py`) and recorded the same way (`records.py`):

- **Handshake.** The path, query or a SQL lookup names the peer; the path or query may
  name the sender too, which must be the authenticated account. A refused socket never
  reaches the app and is never accepted: with the ASGI `websocket.http.response`
  extension the client gets the same RFC 9457 problem as an HTTP refusal (403), without
  it a close with 1008 (policy violation) and a short reason.
- **Frames.** On a socket whose route has `frames:`, each `websocket.receive` is read as
  JSON, its kind mapped to an action and its recipients read; a denied frame is dropped
  before the app's `receive` returns and the client is told (a notice frame, or a close
  with 1008). On a socket whose handshake named a peer, every frame is judged again
  against that peer. Facts come from the in-process caches and restrictions are read
  per frame, so a restriction raised (or a connection removed) while the socket is open
  stops its next frame.

Message text is parsed only to read the fields the policy names, and never stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from .._types import ASGIApp, Message, Receive, Scope, Send
from ..errors import StorageError
from .compiled import CompiledFrames, CompiledRoute
from .not_found import NotFoundAnswer
from ..policy.engine import RuleSet
from .jsondoc import read_json, walk
from ..policy.model import Action, Mode, Outcome
from ..runtime import Runtime
from . import fixed, problem, records
from .facts import assess, strongest
from .failing import refuses as refuses_on_failure
from .ids import account_ids, ids_at, spellings
from .request_view import RequestView
from .targets import TargetsUnread, TooManyCombinations

logger = logging.getLogger("safe_accounts.websocket")

SENDER_REFUSED = "route %s: socket refused, sender %s is not the connected account"
FRAME_SENDER_REFUSED = "route %s: frame dropped, its sender is not the connected account"
CHECK_FAILED = "safety check for socket route %s failed (%s): %s"
HANDSHAKE_BROKE = "safety check for a handshake on socket route %s raised; refusing it"
FRAME_CHECK_BROKE = "safety check for a frame on socket route %s raised; failing %s"

EXTENSION = "websocket.http.response"
NOTICE_TYPE = "safe_accounts.denied"
# RFC 6455 close codes: 1008 policy violation, 1011 internal error, 1013 try again later.
CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013
# A close frame's reason is at most 123 bytes of UTF-8 (RFC 6455, section 5.5).
MAX_REASON_BYTES = 123

SENDER_MISMATCH = ("sender-mismatch", "Not allowed to send as another account")
NOT_SENDER_DETAIL = "Messages on this connection can only be sent as the account that is signed in."
UNPARSEABLE_DETAIL = "This message could not be checked and was not delivered."
UNAVAILABLE_DETAIL = "A safety check could not be completed. Please try again shortly."


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a handshake or a frame is refused, in every form the client may be told it."""

    kind: tuple[str, str]  # problem kind and title
    status: int
    detail: str
    close_code: int = CLOSE_POLICY
    rule: str | None = None
    decision_id: str | None = None
    # A hidden peer: the route's answer for an id that does not exist, where the server
    # lets a handshake be answered with an HTTP response.
    answer: NotFoundAnswer | None = None

    def notice(self) -> bytes:
        return orjson.dumps(
            {
                "type": NOTICE_TYPE,
                "rule": self.rule,
                "decision_id": self.decision_id,
                "detail": self.detail,
            }
        )

    def close_reason(self) -> str:
        reason = (
            self.kind[1]
            if self.decision_id is None
            else f"{self.kind[1]}; decision {self.decision_id}"
        )
        return reason.encode()[:MAX_REASON_BYTES].decode("utf-8", "ignore")


class _Unparseable:
    """A frame that is not JSON (or not UTF-8/16/32 JSON bytes)."""


UNPARSEABLE = _Unparseable()


class SocketGuard:
    """One WebSocket connection on a protected route, from handshake to the last frame."""

    __slots__ = ("app", "rt", "route", "scope", "receive", "send", "view", "closed")

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
        self.closed = False  # we closed the socket: the app's later messages go nowhere
        self.view = RequestView.of(scope, params, actor)

    # --- entry ---------------------------------------------------------------------------

    async def run(self) -> None:
        # The handshake is decided before the app runs: the connect message is read here
        # and handed to the app afterwards, as it was.
        first = await self.receive()
        if first["type"] != "websocket.connect":
            await self.app(self.scope, _replay(first, self.receive), self.send)
            return
        try:
            refusal, peers = await self._handshake()
        except Exception:  # noqa: BLE001 - a fault of ours must not open the socket
            logger.exception(HANDSHAKE_BROKE, self.route.name)
            refusal, peers = _unavailable(CLOSE_INTERNAL), []
        if refusal is not None:
            await self._refuse_handshake(refusal)
            return
        frames = FrameFilter(self, peers) if self.route.frames is not None or peers else None
        receive = self.receive if frames is None else frames.receive
        await self.app(self.scope, _replay(first, receive), self._app_send)

    async def _app_send(self, message: Message) -> None:
        if not self.closed:
            await self.send(message)

    # --- the handshake -------------------------------------------------------------------

    async def _handshake(self) -> tuple[Refusal | None, list[str]]:
        """The refusal (if any) and the peers the path/query/lookup named."""
        route, view = self.route, self.view
        rule = route.fixed
        if rule is not None:  # an endpoint that only ever refuses (`fixed.py`)
            _, decision_id = await fixed.decide(
                self.rt, rule, action=route.action, route=route.name, actor_id=view.actor, at=self.rt.clock.now()
            )
            if rule.mode is Mode.ENFORCE:
                if rule.outcome is Outcome.HIDE:
                    return Refusal(problem.HIDDEN, 404, "Not Found", answer=route.not_found), []
                return Refusal(problem.DENIED, 403, rule.reason, rule=rule.id, decision_id=decision_id), []
        if route.sender is not None:
            claimed = route.sender.values(view)
            if claimed and not _is_actor(view.actor, claimed):
                logger.warning(SENDER_REFUSED, route.name, "in the path or query")
                return Refusal(SENDER_MISMATCH, 403, NOT_SENDER_DETAIL), []
        if not route.targets.sources:
            return None, []
        peers: list[str] = []
        try:
            if route.targets.needs_io:
                async with asyncio.timeout(self.rt.policy.defaults.time_budget_ms / 1000):
                    peers = await route.targets.extract(view)
            else:
                peers = route.targets.extract_now(view)
            refusal = await self.decide(route.action, route.rules, peers)
        except TooManyCombinations:
            return Refusal(
                problem.UNREADABLE, 400, "The connection names too many accounts to check."
            ), []
        except TargetsUnread:
            return Refusal(problem.TARGET_UNREADABLE, 400, problem.TARGET_UNREADABLE_DETAIL), []
        except (StorageError, TimeoutError, OSError) as exc:
            _log_failure(route.name, exc)
            # Unknown peers when their lookup is what failed; monitor rules never refuse.
            if refuses_on_failure(self.rt, route.rules, view.actor, peers or None):
                return _unavailable(CLOSE_TRY_AGAIN), []
            # Open: the socket is accepted, and its frames are still judged against the
            # peers it named, once the stores answer again.
            return None, peers
        return refusal, peers

    async def _refuse_handshake(self, refusal: Refusal) -> None:
        if EXTENSION in (self.scope.get("extensions") or {}):
            if refusal.answer is not None:
                await refusal.answer.send(_denial_response(self.send), self.view)
                return
            await problem.send_problem(
                _denial_response(self.send),
                refusal.kind[0],
                refusal.kind[1],
                refusal.status,
                refusal.detail,
                decision_id=refusal.decision_id,
                rule=refusal.rule,
            )
            return
        await self.send(
            {
                "type": "websocket.close",
                "code": refusal.close_code,
                "reason": refusal.close_reason(),
            }
        )

    # --- deciding ------------------------------------------------------------------------

    async def decide(
        self, action: Action, rules: RuleSet, targets: Sequence[str]
    ) -> Refusal | None:
        """The same decision as an HTTP request for `action` to `targets`, logged the same way."""
        if not targets:
            return None
        # From the caches without a timer when they hold everything; else bounded by the budget.
        actor, pairs = await assess(self.rt, rules, self.view.actor, targets)
        decisive = strongest(pairs)
        if decisive is None:
            return None
        now = self.rt.clock.now()
        decision_id = records.log_decision(
            self.rt, action=action, route=self.route.name, at=now, actor=actor, pairs=pairs
        )
        verdict = decisive.verdict
        if (
            verdict.mode is not Mode.ENFORCE
            or verdict.outcome not in records.STATUS
            or decision_id is None
        ):
            return None
        records.record_refusal(
            self.rt, action=action, at=now, actor=actor, pairs=pairs, decision_id=decision_id
        )
        if verdict.outcome is Outcome.HIDE:
            # As over HTTP: indistinguishable from "no such account", no rule, no decision id.
            return Refusal(problem.HIDDEN, 404, "Not Found", answer=self.route.not_found)
        assert verdict.rule is not None
        return Refusal(
            problem.DENIED, 403, verdict.rule.detail, rule=verdict.rule.public_id, decision_id=decision_id
        )


class FrameFilter:
    """The `receive` the app gets on a checked socket: denied frames never come out of it."""

    __slots__ = ("guard", "peers", "frames")

    def __init__(self, guard: SocketGuard, peers: list[str]) -> None:
        self.guard = guard
        self.peers = peers  # named at the handshake: every frame goes to them
        self.frames: CompiledFrames | None = guard.route.frames

    async def receive(self) -> Message:
        guard = self.guard
        while True:
            message = await guard.receive()
            if message["type"] != "websocket.receive":
                return message
            try:
                dropped = await self.check(message)
            except Exception:  # noqa: BLE001 - a fault of ours never lets a frame through unchecked
                logger.exception(FRAME_CHECK_BROKE, guard.route.name, "closed")
                dropped = _unavailable(CLOSE_INTERNAL), True
            if dropped is None:
                return message
            refusal, close = dropped
            if close:
                await guard.send(
                    {
                        "type": "websocket.close",
                        "code": refusal.close_code,
                        "reason": refusal.close_reason(),
                    }
                )
                guard.closed = True
                return {"type": "websocket.disconnect", "code": refusal.close_code}
            await guard.send({"type": "websocket.send", "text": refusal.notice().decode()})

    async def check(self, message: Message) -> tuple[Refusal, bool] | None:
        """None: deliver the frame. Otherwise why it is dropped, and whether the socket closes."""
        frames, actor = self.frames, self.guard.view.actor
        checks: list[tuple[Action, RuleSet, list[str]]] = []
        # A socket that named its peer has no one else to talk to: a refusal closes it.
        close = frames.close_on_deny if frames is not None else True
        if frames is not None:
            document = parse_frame(message, frames.quoted_keys)
            if document is UNPARSEABLE:
                if frames.on_unparseable != "pass":
                    return Refusal(
                        problem.UNREADABLE, 400, UNPARSEABLE_DETAIL
                    ), frames.on_unparseable == "close"
            else:
                # A JSON array is a batch of messages to an app that accepts batches: every
                # element is judged as a frame of its own, and one refusal drops the batch.
                for part in document if isinstance(document, list) else (document,):
                    if frames.sender is not None:
                        claimed = list(walk(part, frames.sender))
                        if claimed and not _is_actor(actor, claimed):
                            logger.warning(FRAME_SENDER_REFUSED, self.guard.route.name)
                            return Refusal(SENDER_MISMATCH, 403, NOT_SENDER_DETAIL), close
                    actions = _actions(frames, part)
                    if actions:
                        named = [i for path in frames.recipients for i in ids_at(part, path)]
                        targets = account_ids([*self.peers, *(t for t in named if t != actor)])
                        checks.extend((action, frames.rules[action], targets) for action in actions)
        if not checks and self.peers:
            checks.append((self.guard.route.action, self.guard.route.rules, self.peers))
        if not checks:
            return None
        try:
            for action, rules, targets in checks:
                refusal = await self.guard.decide(action, rules, targets)
                if refusal is not None:
                    return refusal, close
        except (StorageError, TimeoutError, OSError) as exc:
            _log_failure(self.guard.route.name, exc)
            actor = self.guard.view.actor
            if any(refuses_on_failure(self.guard.rt, rules, actor, targets) for _, rules, targets in checks):
                return _unavailable(CLOSE_TRY_AGAIN), close
        return None


def _actions(frames: CompiledFrames, document: Any) -> list[Action]:
    """The actions a frame's kind field names (several when a key is written twice)."""
    found: dict[Action, None] = {}
    for value in walk(document, frames.kind):
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            action = frames.actions.get(str(value).strip().casefold())
            if action is not None:
                found.setdefault(action, None)
    return list(found)


# --- helpers ---------------------------------------------------------------------------------


def _is_actor(actor: str | None, claimed: list[Any]) -> bool:
    """Every sender the path, query or frame names is the connected account (in any spelling)."""
    return actor is not None and all(actor in spellings(value) for value in claimed)


def _unavailable(close_code: int) -> Refusal:
    return Refusal(problem.UNAVAILABLE, 503, UNAVAILABLE_DETAIL, close_code=close_code)


def _log_failure(route: str, exc: BaseException) -> None:
    reason = (
        "time budget exceeded"
        if isinstance(exc, TimeoutError)
        else str(exc) or exc.__class__.__name__
    )
    logger.warning(CHECK_FAILED, route, exc.__class__.__name__, reason)


def _replay(first: Message, receive: Receive) -> Receive:
    """`receive`, giving `first` (already read by us) once before anything else."""
    pending: list[Message] = [first]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed


def _denial_response(send: Send) -> Send:
    """`send` for an HTTP response in place of the handshake (the ASGI denial-response extension)."""

    async def denial(message: Message) -> None:
        await send({**message, "type": "websocket." + message["type"]})

    return denial


def parse_frame(message: Message, quoted_keys: tuple[str, ...] = ()) -> Any:
    """A frame's JSON (duplicate keys kept where they matter, as for HTTP bodies), or UNPARSEABLE."""
    data: str | bytes | None = message.get("text")
    if data is None:
        data = message.get("bytes")
        if data is None:
            return UNPARSEABLE
    try:
        if isinstance(data, bytes):
            # As `json.loads` reads bytes (and Starlette's `receive_json(mode="binary")`):
            # UTF-8, -16 or -32, told apart by the first bytes.
            data = data.decode(json.detect_encoding(data))
        return read_json(data, quoted_keys)
    except (ValueError, UnicodeDecodeError):
        return UNPARSEABLE
