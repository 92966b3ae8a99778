"""A policy compiled for the request path: built once at start-up, read-only afterwards.

The loader gives a validated `PolicyFile`; this turns it into lookup structures: the
route table, each route's target extractors and response shape, and per action the rule
set the engine evaluates. Nothing here re-reads the YAML or re-checks a field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..clock import SYSTEM_CLOCK, Clock
from ..decide.actions import ActionSpec, spec_of
from ..decide.fixed import fixed_rule
from ..decide.rules import CompiledRule, RuleSet, compile_discovery, compile_rules
from ..identity import IdentityResolver, build_resolver
from ..policy.jsonpath import compile_path
from ..policy.model import (
    Action,
    DiscoveryKind,
    FrameFilter,
    Mode,
    NotFound,
    Outcome,
    PolicyFile,
    ResponseFrom,
    ResponseShape,
    Route,
)
from ..policy.paths import RouteTable
from ..relations.lookup import Lookup, compile_lookups
from .caching import vary_of
from .jsondoc import quoted_keys
from .not_found import STARLETTE, STARLETTE_ANSWER, NotFoundAnswer, compile_not_found
from .request_view import RequestView
from .targets import Extractor, PathSource, QuerySource, Targets, compile_source, reference


@dataclass(frozen=True, slots=True)
class CompiledResponse:
    """Where accounts sit in a JSON response, as compiled JSON paths."""

    items: tuple[object, ...] | None
    id: tuple[object, ...]
    redact: tuple[str, ...]
    notice_field: str | None
    lists: tuple[tuple[object, ...], ...]


@dataclass(frozen=True, slots=True)
class CompiledAnswer:
    """contact_response: the reference holding the answer, and the words for yes and no."""

    field: str
    accept: frozenset[str]
    reject: frozenset[str]
    # Every value the request gives the field (`targets.reference`).
    read: Callable[[RequestView], list[Any]]


@dataclass(frozen=True, slots=True)
class CompiledFrames:
    """A multiplexed socket's frame filter: where each frame says what it is and to whom."""

    kind: tuple[object, ...]
    actions: Mapping[str, Action]
    rules: Mapping[Action, RuleSet]
    recipients: tuple[tuple[object, ...], ...]
    sender: tuple[object, ...] | None
    close_on_deny: bool
    on_unparseable: str  # drop_notice | close | pass
    # Every key the paths read, quoted as JSON writes it (and `"id"`, read from recipient
    # objects): when none is written twice, a plain parse reads the frame unambiguously.
    quoted_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    name: str
    methods: tuple[str, ...]  # upper case; `("WEBSOCKET",)` for a socket route
    template: str
    action: Action
    # What the action means besides its rules: what it refuses, records and counts.
    spec: ActionSpec
    # The rules of its action; on a discovery route, those of its kind of list.
    rules: RuleSet
    # The discovery rules that judge the lists of people in its answer: on a discovery
    # route its own `rules`; elsewhere (`response.lists`) those of lists of no kind.
    lists: RuleSet
    targets: Targets
    response: CompiledResponse | None
    answer: CompiledAnswer | None
    max_body_bytes: int
    # The quoted JSON keys the route reads; None: parse every body the careful way.
    json_keys: tuple[str, ...] | None = None
    # WEBSOCKET routes only: who the path/query says is sending, and the frame filter.
    sender: Extractor | None = None
    frames: CompiledFrames | None = None
    # Whether a target or the answer field is in the body (computed once, read per request).
    reads_body: bool = False
    # When no rule applies, the app answers untouched and nothing is recorded after it:
    # no response shape to rewrite, and an action whose success is not an event.
    passes_through_when_allowed: bool = False
    # Lists in the answer lose accounts under an enforced discovery rule: an answer we
    # cannot read is refused, never passed (see `capture.py`).
    filters_lists: bool = False
    # Readable with GET and answered per viewer (an enforced rule or a safety notice):
    # the answer is made private to the viewer and the app is never asked to revalidate
    # (see `caching.py`).
    personal: bool = False
    # What a `hide` answers: the app's own answer for an id that does not exist.
    not_found: NotFoundAnswer = STARLETTE_ANSWER
    # `report` routes: the reporter's words (`json.X`, `form.X`, `query.X`), as read.
    report_text: Callable[[RequestView], list[Any]] | None = None
    # A fixed outcome (`outcome: deny|hide`): the one rule every request gets (`fixed.py`).
    fixed: CompiledRule | None = None

    @property
    def is_websocket(self) -> bool:
        return "WEBSOCKET" in self.methods



def _json_keys(targets: Targets, answer: CompiledAnswer | None, report_text: str | None) -> tuple[str, ...] | None:
    """The quoted keys a route reads from a JSON body (see `jsonpath.read_json`)."""
    paths = targets.json_paths()
    if paths is None:
        return None
    for field in (answer.field if answer is not None else None, report_text):
        if field is not None and field.startswith("json."):
            paths.append(compile_path(field[5:]))
    return quoted_keys(paths)


def _response(shape: ResponseShape | None) -> CompiledResponse | None:
    if shape is None:
        return None
    return CompiledResponse(
        items=compile_path(shape.items) if shape.items is not None else None,
        id=compile_path(shape.id),
        redact=shape.redact,
        notice_field=shape.notice_field,
        lists=tuple(compile_path(p) for p in shape.lists),
    )


def _answer(spec: ResponseFrom | None) -> CompiledAnswer | None:
    if spec is None:
        return None
    return CompiledAnswer(
        field=spec.field,
        read=reference(spec.field),
        accept=frozenset(w.lower() for w in spec.accept),
        reject=frozenset(w.lower() for w in spec.reject),
    )


class CompiledPolicy:
    """The policy the middleware enforces. `version` is the loader's content hash."""

    def __init__(
        self,
        policy: PolicyFile,
        version: str,
        engine: AsyncEngine | None = None,
        *,
        identity: bool = True,
        clock: Clock = SYSTEM_CLOCK,
        framework_not_found: NotFound = STARLETTE,
    ) -> None:
        """`identity=False` is for tools (`policy test`, `explain`): they name the actor
        themselves and must not need the deployment's token keys. `framework_not_found` is
        the app's framework's own 404 (`not_found.framework_of`), for routes and policies
        that do not say what their "not found" looks like."""
        self.not_found = policy.defaults.not_found or framework_not_found
        self.policy = policy
        self.version = version
        self.defaults = policy.defaults
        self.unknown_is_minor = policy.defaults.unknown_age == "minor"
        # The request headers that name a viewer: what a viewer-dependent answer varies on.
        self.vary = vary_of(policy.identity)
        self.identity: IdentityResolver = (
            build_resolver(policy.identity, clock=clock) if identity else IdentityResolver(())
        )
        self.lookups: Mapping[str, Lookup] = compile_lookups(policy.queries, engine)
        # The events the policy's enabled count signals count: what a success must record.
        self.counted = frozenset(signal.event for signal in policy.signals.counts if signal.enabled)
        self.rules: Mapping[Action, RuleSet] = compile_rules(policy)
        # Discovery's rule set for each kind of list (`Route.discovery`).
        self.discovery: Mapping[DiscoveryKind, RuleSet] = compile_discovery(policy, self.rules[Action.DISCOVERY])
        self.routes: list[CompiledRoute] = [self._route(i, r) for i, r in enumerate(policy.routes)]
        self.table: RouteTable[CompiledRoute] = RouteTable(
            (r.method, r.path, compiled) for r, compiled in zip(policy.routes, self.routes, strict=True)
        )

    def rules_of(self, action: Action, kind: DiscoveryKind | None = None) -> RuleSet:
        """The rules that decide `action`; for discovery, on a list of `kind` (None: of no kind)."""
        return self.discovery[kind] if action is Action.DISCOVERY and kind is not None else self.rules[action]

    def _route(self, index: int, route: Route) -> CompiledRoute:
        methods = (route.method,) if isinstance(route.method, str) else route.method
        spec = spec_of(route.action, self.counted)
        rules = self.rules_of(route.action, route.discovery)
        # Lists of people in the answer: a discovery route's are its own kind's.
        lists_rules = rules if route.action is Action.DISCOVERY else self.rules[Action.DISCOVERY]
        # Refusing unreadable targets changes an answer: only where an enforced rule could.
        required = route.requires_targets and any(r.mode is Mode.ENFORCE for r in rules.rules)
        targets = Targets([compile_source(s, self.lookups) for s in route.targets], required=required)
        answer = _answer(route.response_from)
        upper = tuple(m.upper() for m in methods)
        shape = route.response
        lists = shape is not None and bool(shape.lists or (route.action is Action.DISCOVERY and shape.items))
        filters_lists = lists and _enforces(lists_rules)
        notices = route.action is Action.DISCOVERY and shape is not None and shape.notice_field is not None
        return CompiledRoute(
            name=route.name or f"routes[{index}]",
            methods=upper,
            template=route.path,
            action=route.action,
            spec=spec,
            rules=rules,
            lists=lists_rules,
            targets=targets,
            response=_response(route.response),
            answer=answer,
            max_body_bytes=route.max_body_bytes or self.defaults.max_body_bytes,
            json_keys=_json_keys(targets, answer, route.report_text),
            sender=_sender(route.sender),
            frames=self._frames(route.frames),
            reads_body=targets.needs_body
            or any(
                f is not None and f.startswith(("json.", "form."))
                for f in (None if answer is None else answer.field, route.report_text)
            ),
            passes_through_when_allowed=route.response is None and not spec.acts_on_success,
            filters_lists=filters_lists,
            personal=bool({"GET", "HEAD"} & set(upper)) and (
                filters_lists or notices or _enforces(rules)
            ),
            not_found=compile_not_found(route.not_found or self.not_found, route.path),
            report_text=None if route.report_text is None else reference(route.report_text),
            fixed=None if route.outcome is None else fixed_rule(
                route.name or f"routes[{index}]", route.outcome, route.reason, self.policy.mode
            ),
        )

    def _frames(self, spec: FrameFilter | None) -> CompiledFrames | None:
        if spec is None:
            return None
        recipients = (spec.recipient,) if isinstance(spec.recipient, str) else spec.recipient
        paths = [compile_path(spec.kind), *(compile_path(p) for p in recipients)]
        if spec.sender is not None:
            paths.append(compile_path(spec.sender))
        return CompiledFrames(
            kind=compile_path(spec.kind),
            # Matched case-insensitively: only ever more frames are checked, never fewer.
            actions={kind.strip().casefold(): action for kind, action in spec.actions.items()},
            rules={action: self.rules[action] for action in set(spec.actions.values())},
            recipients=tuple(compile_path(p) for p in recipients),
            sender=compile_path(spec.sender) if spec.sender is not None else None,
            close_on_deny=spec.on_deny == "close",
            on_unparseable=spec.on_unparseable,
            quoted_keys=quoted_keys(paths),
        )


def _sender(spec: str | None) -> Extractor | None:
    if spec is None:
        return None
    where, _, name = spec.partition(".")
    return PathSource(name) if where == "path" else QuerySource(name)


def _enforces(rules: RuleSet) -> bool:
    """Whether an enforced rule of `rules` changes something (filters, redacts, hides, denies)."""
    return any(r.mode is Mode.ENFORCE and r.outcome.strength >= Outcome.FILTER.strength for r in rules.rules)

