"""Direct messages over WebSocket: the handshake check and the frame filter (issue 9).

Created per connection by the middleware when a `WEBSOCKET` route matches; everything
per connection lives here. Two levels, both decided as HTTP requests are (`decide`),
refused in the same words (`decide.Refusal`) and recorded the same way (`records.py`):

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

import json
import logging
from collections.abc import Sequence
from typing import Any

import orjson

from .._types import ASGIApp, Message, Receive, Scope, Send
from ..decide.actions import ACTIONS
from ..decide.budget import within
from ..decide.failing import refuses as refuses_on_failure
from ..decide.fixed import decide_fixed
from ..decide.ids import keeps
from ..decide.refusal import UNAVAILABLE, Refusal
from ..decide.request import decide
from ..decide.rules import RuleSet
from ..errors import StorageError
from ..policy.model import Action
from ..runtime import Runtime
from . import problem, records
from .compiled import CompiledFrames, CompiledRoute
from .ids import account_ids, ids_at, spellings
from .jsondoc import read_json, walk
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

SENDER_MISMATCH = Refusal(
    "sender-mismatch", "Not allowed to send as another account", 403,
    "Messages on this connection can only be sent as the account that is signed in.",
)
UNREADABLE_FRAME = Refusal(
    "unreadable-body", "Request body could not be checked", 400,
    "This message could not be checked and was not delivered.",
)
TOO_MANY_ACCOUNTS = Refusal(
    "unreadable-body", "Request body could not be checked", 400, "The connection names too many accounts to check."
)


def notice(refusal: Refusal) -> bytes:
    """The frame that tells the client a frame of theirs was dropped."""
    return orjson.dumps(
        {"type": NOTICE_TYPE, "rule": refusal.rule, "decision_id": refusal.decision_id, "detail": refusal.detail}
    )


def close_reason(refusal: Refusal) -> str:
    reason = refusal.title if refusal.decision_id is None else f"{refusal.title}; decision {refusal.decision_id}"
    return reason.encode()[:MAX_REASON_BYTES].decode("utf-8", "ignore")


def close_code(refusal: Refusal) -> int:
    """1013 (try again later) for a check that could not be made, else 1008 (policy violation)."""
    return CLOSE_TRY_AGAIN if refusal.status == UNAVAILABLE.status else CLOSE_POLICY


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
        except Exception:  # a fault of ours must not open the socket
            logger.exception(HANDSHAKE_BROKE, self.route.name)
            await self._refuse_handshake(UNAVAILABLE, CLOSE_INTERNAL)
            return
        if refusal is not None:
            await self._refuse_handshake(refusal, close_code(refusal))
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
        if not keeps(view.actor):  # before any store is read, as over HTTP
            return problem.ACTOR_UNREADABLE, []
        if route.fixed is not None:  # an endpoint that only ever refuses (`decide/fixed.py`)
            decision = await decide_fixed(self.rt.facts, route.fixed, view.actor)
            _, refusal = await records.judged(
                self.rt, spec=route.spec, route=route.name, at=self.rt.clock.now(), decision=decision
            )
            if refusal is not None:
                return refusal, []
        if route.sender is not None:
            claimed = route.sender.values(view)
            if claimed and not _is_actor(view.actor, claimed):
                logger.warning(SENDER_REFUSED, route.name, "in the path or query")
                return SENDER_MISMATCH, []
        if not route.targets.sources:
            return None, []
        peers: list[str] = []
        try:
            if route.targets.needs_io:
                async with within(self.rt.facts.time_budget):
                    peers = await route.targets.extract(view)
            else:
                peers = route.targets.extract_now(view)
            refusal = await self.decide(route.action, route.rules, peers)
        except TooManyCombinations:
            return TOO_MANY_ACCOUNTS, []
        except TargetsUnread:
            return problem.TARGET_UNREADABLE, []
        except StorageError as exc:
            _log_failure(route.name, exc)
            # Unknown peers when their lookup is what failed; monitor rules never refuse.
            if refuses_on_failure(self.rt.facts, route.rules, view.actor, peers or None):
                return UNAVAILABLE, []
            # Open: the socket is accepted, and its frames are still judged against the
            # peers it named, once the stores answer again.
            return None, peers
        return refusal, peers

    async def _refuse_handshake(self, refusal: Refusal, code: int) -> None:
        if EXTENSION in (self.scope.get("extensions") or {}):
            if refusal.hidden:
                # As over HTTP: the route's answer for an id that does not exist.
                await self.route.not_found.send(_denial_response(self.send), self.view)
                return
            await problem.send_problem(_denial_response(self.send), refusal)
            return
        await self.send({"type": "websocket.close", "code": code, "reason": close_reason(refusal)})

    # --- deciding ------------------------------------------------------------------------

    async def decide(self, action: Action, rules: RuleSet, targets: Sequence[str]) -> Refusal | None:
        """The same decision as an HTTP request for `action` to `targets`, logged the same way."""
        if not targets:
            return None
        decision = await decide(self.rt.facts, rules, self.view.actor, targets)
        _, refusal = await records.judged(
            self.rt, spec=ACTIONS[action], route=self.route.name, at=self.rt.clock.now(), decision=decision
        )
        return refusal


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
                code = None if dropped is None else close_code(dropped[0])
            except Exception:  # a fault of ours never lets a frame through unchecked
                logger.exception(FRAME_CHECK_BROKE, guard.route.name, "closed")
                dropped, code = (UNAVAILABLE, True), CLOSE_INTERNAL
            if dropped is None:
                return message
            refusal, close = dropped
            if close:
                await guard.send({"type": "websocket.close", "code": code, "reason": close_reason(refusal)})
                guard.closed = True
                return {"type": "websocket.disconnect", "code": code}
            await guard.send({"type": "websocket.send", "text": notice(refusal).decode()})

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
                    return UNREADABLE_FRAME, frames.on_unparseable == "close"
            else:
                # A JSON array is a batch of messages to an app that accepts batches: every
                # element is judged as a frame of its own, and one refusal drops the batch.
                for part in document if isinstance(document, list) else (document,):
                    if frames.sender is not None:
                        claimed = list(walk(part, frames.sender))
                        if claimed and not _is_actor(actor, claimed):
                            logger.warning(FRAME_SENDER_REFUSED, self.guard.route.name)
                            return SENDER_MISMATCH, close
                    actions = _actions(frames, part)
                    if actions:
                        named = [i for path in frames.recipients for i in ids_at(part, path)]
                        targets = account_ids([*self.peers, *(t for t in named if t != actor)])
                        if not all(map(keeps, targets)):
                            return problem.TARGET_UNREADABLE, close
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
        except StorageError as exc:
            _log_failure(self.guard.route.name, exc)
            facts = self.guard.rt.facts
            if any(refuses_on_failure(facts, rules, actor, targets) for _, rules, targets in checks):
                return UNAVAILABLE, close
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


def _log_failure(route: str, exc: StorageError) -> None:
    logger.warning(CHECK_FAILED, route, exc.__class__.__name__, str(exc) or exc.__class__.__name__)


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
