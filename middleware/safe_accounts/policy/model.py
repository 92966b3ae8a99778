"""The policy file's shape: frozen pydantic models, parsed once at start-up.

A policy is parsed into these models (which also give the JSON Schema in
`docs/policy.schema.json`), then compiled (`compiled.py`) into the lookup structures
the request path uses. Nothing downstream re-checks raw YAML.

Rule semantics: every rule whose `action` matches and whose conditions all hold
*applies*; the strongest outcome among them wins (deny > hide > redact > filter >
allow). No rule applies: allow. Protections are therefore written as denials with
precise conditions, and relaxations as narrower conditions, never as allow-overrides.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ConfigurationError
from .jsonpath import compile_path
from .paths import template_params


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Action(enum.StrEnum):
    DIRECT_MESSAGE = "direct_message"
    CONTACT_REQUEST = "contact_request"
    CONTACT_RESPONSE = "contact_response"
    PROFILE_VIEW = "profile_view"
    DISCOVERY = "discovery"
    REPORT = "report"
    BLOCK = "block"


class DiscoveryKind(enum.StrEnum):
    """What list of people a `discovery` route answers, for the rules that concern some
    kinds of list only (`when: {discovery: [suggestions]}`)."""

    SEARCH = "search"  # accounts matching what the viewer typed
    SUGGESTIONS = "suggestions"  # accounts the platform proposes ("people you may know")
    CONNECTIONS = "connections"  # an account's friends, followers or following
    REQUESTS = "requests"  # contact requests sent to the viewer
    MEMBERS = "members"  # the people in a conversation or a group


class Outcome(enum.StrEnum):
    ALLOW = "allow"
    FILTER = "filter"  # discovery: drop the matching accounts from the listed response
    REDACT = "redact"  # profile_view: remove the route's named fields from the response
    HIDE = "hide"  # 404: the target does not exist, as far as the actor can tell
    DENY = "deny"  # 403 problem details

    @property
    def strength(self) -> int:
        return _STRENGTH[self]


_STRENGTH = {
    Outcome.ALLOW: 0,
    Outcome.FILTER: 1,
    Outcome.REDACT: 2,
    Outcome.HIDE: 3,
    Outcome.DENY: 4,
}


class Mode(enum.StrEnum):
    ENFORCE = "enforce"
    MONITOR = "monitor"  # decide and log, never change the response


class Failure(enum.StrEnum):
    CLOSED = "closed"  # SQL/Redis down or too slow: deny with 503
    OPEN = "open"  # ... let the request through, logged


BandName = Literal["under_13", "13_15", "16_17", "adult", "unknown", "minor"]
AssuranceName = Literal["self_declared", "estimated", "verified"]


# --- where target accounts come from ---------------------------------------------------


class PathTarget(_Frozen):
    path: str = Field(description="Name of a path parameter in the route template.")


class QueryTarget(_Frozen):
    query: str = Field(description="Query-string parameter; repeated parameters give several targets.")


class JsonTarget(_Frozen):
    json_: str = Field(
        alias="json",
        description="Dotted path into the JSON body; `[*]` walks a list, e.g. `participants[*].id`.",
    )


class FormTarget(_Frozen):
    form: str = Field(description="Form field (urlencoded or multipart); repeated fields give several.")


class SqlTarget(_Frozen):
    sql: str = Field(description="Name of a query under `queries:`; each row's first column is a target.")
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Bound parameters: name -> `path.X`, `query.X`, `json.X`, `form.X` or `actor`.",
    )


class CallableTarget(_Frozen):
    callable: str = Field(
        description="`module:function` called as `await f(request_view)`, returning account ids."
    )


TargetSource = PathTarget | QueryTarget | JsonTarget | FormTarget | SqlTarget | CallableTarget


class ResponseShape(_Frozen):
    """Where accounts sit in the app's JSON response (discovery, profile views, responses)."""

    items: str | None = Field(
        default=None, description="Path to the list of accounts, e.g. `results[*]` or `[*]`."
    )
    id: str = Field(default="id", description="Field of each item (or of the profile) holding the account id.")
    redact: tuple[str, ...] = Field(
        default=(), description="Profile fields removed by a `redact` decision (location, school...)."
    )
    lists: tuple[str, ...] = Field(
        default=(),
        description=(
            "Other lists of accounts inside the response (e.g. a profile's `friends[*]`), filtered "
            "with the discovery rules on any route: a list of people is discovery wherever it appears."
        ),
    )
    notice_field: str | None = Field(
        default=None, description="Field added to the JSON when a safety notice applies."
    )


class ResponseFrom(_Frozen):
    """contact_response: how to tell an acceptance from a rejection."""

    field: str = Field(description="`path.X`, `query.X`, `json.X` or `form.X` holding the answer.")
    accept: tuple[str, ...] = Field(default=("accept", "accepted", "true", "yes"))
    reject: tuple[str, ...] = Field(default=("reject", "rejected", "decline", "declined", "false", "no"))


class FrameFilter(_Frozen):
    """A WebSocket that carries many conversations: which JSON frames are which action, and
    to whom. Each classified frame is decided like an HTTP request; a denied one never
    reaches the app."""

    kind: str = Field(default="type", description="JSON path of the frame field naming what the frame is.")
    actions: dict[str, Action] = Field(
        min_length=1, description="Value of `kind` -> action, e.g. `{message: direct_message}`."
    )
    recipient: str | tuple[str, ...] = Field(
        description="JSON path(s) of the account(s) a frame goes to: `to`, `recipients[*]`."
    )
    sender: str | None = Field(
        default=None, description="JSON path of a sender field; it must equal the connected account."
    )
    on_deny: Literal["notice", "close"] = Field(
        default="notice", description="Tell the client with a JSON notice frame, or close with 1008."
    )
    on_unparseable: Literal["drop_notice", "close", "pass"] = Field(
        default="drop_notice", description="A frame that is not JSON: drop it and notify, close with 1008, or pass it."
    )

    @field_validator("kind", "recipient", "sender")
    @classmethod
    def _json_paths(cls, value: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        for path in (value,) if isinstance(value, str) else value or ():
            try:
                steps = compile_path(path)
            except ConfigurationError as exc:
                raise ValueError(str(exc)) from None
            if not steps:
                raise ValueError(f"JSON path {path!r} names the whole frame, not a field in it")
        return value


class NotFound(_Frozen):
    """What the app answers for an account that does not exist: a hidden account answers
    exactly this, so a stranger cannot tell hidden from absent. Propose it from the app's
    own answer with `safe-accounts policy not-found`. Sent as the bytes written here, with
    `headers` first, then `content-length`, then `content-type` (the order Starlette and
    FastAPI responses use); the server adds what it adds to every answer (`date`, `server`)."""

    status: int = Field(default=404, ge=200, le=599, description="The app's status for an unknown id.")
    content_type: str | None = Field(
        default="text/plain; charset=utf-8", description="The app's `content-type` header, or null for none."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Any other headers the app sends with it, in order (not `content-length`)."
    )
    body: str = Field(
        default="Not Found",
        description="The body, exactly (sent as UTF-8). `{path.NAME}` or `{query.NAME}` stands for the id the "
        "request named, as the app's message would write it (JSON-escaped in a JSON body).",
    )

    @field_validator("headers")
    @classmethod
    def _no_length_or_type(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if name.lower() in ("content-length", "content-type"):
                raise ValueError(f"`{name}` is not written here: the length is the body's, the type is `content_type`")
            _header_text(name, text)
        return value

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str | None) -> str | None:
        if value is not None:
            _header_text("content-type", value)
        return value


# `{path.NAME}` or `{query.NAME}` in a `not_found` body: where the app's message names the id.
_PLACEHOLDER = re.compile(r"\{(path|query)\.([A-Za-z_][A-Za-z0-9_]*)\}")


def _header_text(name: str, value: str) -> None:
    """A header as HTTP/1.1 can carry it: a token name, a latin-1 value on one line."""
    if not name or any(c in name for c in " :\t\r\n") or any(c in value for c in "\r\n\x00"):
        raise ValueError(f"header {name!r} is not a valid HTTP header")
    try:
        (name + value).encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header {name!r} holds characters HTTP headers cannot carry") from None


# Actions whose rules protect the account a request names: what cannot be read is refused.
# Blocks and reports are recorded, never refused; a contact response is the child's own
# answer; a discovery's accounts are in the app's answer.
PROTECTS_TARGET = frozenset({Action.DIRECT_MESSAGE, Action.CONTACT_REQUEST, Action.PROFILE_VIEW})

# Actions whose requests change nothing: they read (a profile, a list of people), nothing is
# sent, requested or recorded after their answer, and no signal counts them. Only their
# allowed decisions may be sampled in the decision log (`Rule.log`).
CHANGES_NOTHING = frozenset({Action.PROFILE_VIEW, Action.DISCOVERY})


class Route(_Frozen):
    name: str | None = None
    method: str | tuple[str, ...] = Field(description="HTTP method(s), or `WEBSOCKET`.")
    path: str = Field(description="Starlette-style template: `/api/messages/{id}`, `{id:int}`.")
    action: Action
    targets: tuple[TargetSource, ...] = ()
    targets_required: bool | None = Field(
        default=None,
        description=(
            "Refuse (400) a request in which no target account can be read, or one is written in a "
            "shape that cannot be read as an account: otherwise every way the app reads a request "
            "that we do not is a way past the rules. Default: true for `direct_message`, "
            "`contact_request` and `profile_view`; false for the rest. Set false on a route whose "
            "target is really optional. Nothing is refused while every rule of the action is in "
            "`monitor` mode."
        ),
    )
    response: ResponseShape | None = None
    response_from: ResponseFrom | None = None
    max_body_bytes: int | None = Field(default=None, gt=0)
    frames: FrameFilter | None = Field(
        default=None, description="WEBSOCKET routes: filter each JSON frame of a multiplexed socket."
    )
    sender: str | None = Field(
        default=None,
        description="WEBSOCKET routes: `path.X` or `query.X` naming the sender; it must equal the identity.",
        pattern=r"^(path|query)\.[A-Za-z_][A-Za-z0-9_-]*$",
    )
    not_found: NotFound | None = Field(
        default=None,
        description="What the app answers here for an id that does not exist; a `hide` decision answers the same. "
        "Default: `defaults.not_found`.",
    )
    outcome: Literal["deny", "hide"] | None = Field(
        default=None,
        description="A fixed outcome: every request on this route is refused, whoever sends it and whoever it "
        "names (`deny`: 403 problem details with `reason`; `hide`: the route's `not_found`), without reading "
        "the body or looking anything up. Recorded as a decision under the rule `route:NAME`; never a grooming "
        "signal. Follows the policy's `mode` (monitor: recorded, the app answers).",
    )
    reason: str | None = Field(
        default=None, description="With `outcome`: what the problem details tell the client (and moderators)."
    )
    discovery: DiscoveryKind | None = Field(
        default=None,
        description="`discovery` routes: what list of people the answer is (`search`, `suggestions`, "
        "`connections`, `requests`, `members`). Rules that name kinds (`when: {discovery: [...]}`) apply only "
        "on routes of those kinds; every other discovery rule applies whatever the kind, or without one.",
    )
    report_text: str | None = Field(
        default=None,
        description="`report` routes: `json.PATH`, `form.NAME` or `query.NAME` holding what the reporter wrote. "
        "Kept with the child-endangerment report for moderators (at most 2,000 characters), and erased by "
        "`safe-accounts purge` with the report's account ids.",
        pattern=r"^(json|form|query)\..+$",
    )

    @property
    def requires_targets(self) -> bool:
        """`targets_required`, or the action's default."""
        if self.targets_required is not None:
            return self.targets_required
        return self.action in PROTECTS_TARGET

    @model_validator(mode="after")
    def _websocket_fields(self) -> Route:
        methods = {self.method} if isinstance(self.method, str) else set(self.method)
        is_socket = "WEBSOCKET" in methods
        if (self.frames is not None or self.sender is not None) and not is_socket:
            raise ValueError("`frames` and `sender` apply only to `method: WEBSOCKET` routes")
        if is_socket and len(methods) > 1:
            raise ValueError("a `WEBSOCKET` route cannot also list HTTP methods: declare them as separate routes")
        if is_socket and any(_reads_body(t) for t in self.targets):
            raise ValueError(
                "a WebSocket handshake has no body: its targets come from `path`, `query`, `sql` or "
                "`callable` (use `frames.recipient` for recipients inside frames)"
            )
        if self.sender is not None and self.sender.startswith("path."):
            name = self.sender.removeprefix("path.")
            try:
                params = template_params(self.path)
            except ConfigurationError:
                return self  # the template's own problem is reported where it is
            if name not in params:
                raise ValueError(f"`sender: {self.sender}`: the template {self.path!r} has no {{{name}}} parameter")
        return self

    @model_validator(mode="after")
    def _required_targets(self) -> Route:
        if self.targets_required and self.action is Action.DISCOVERY:
            raise ValueError("`targets_required` does not apply to `discovery`: its accounts are in the answer")
        methods = {self.method} if isinstance(self.method, str) else set(self.method)
        if self.requires_targets and not self.targets and "WEBSOCKET" not in methods and self.outcome is None:
            raise ValueError(
                f"a `{self.action.value}` route must say where its target is (`targets`), "
                "or set `targets_required: false` if it has none"
            )
        return self

    @model_validator(mode="after")
    def _fixed_outcome(self) -> Route:
        if self.reason is not None and self.outcome is None:
            raise ValueError("`reason` goes with a fixed `outcome` (a rule's reason is the rule's)")
        if self.outcome is not None and self.name is None:
            raise ValueError("a route with a fixed `outcome` needs a `name`: decisions are recorded under `route:NAME`")
        return self

    @model_validator(mode="after")
    def _report_text_on_reports(self) -> Route:
        if self.report_text is not None and self.action is not Action.REPORT:
            raise ValueError("`report_text` applies only to `action: report` routes")
        return self

    @model_validator(mode="after")
    def _discovery_kind_on_discovery(self) -> Route:
        if self.discovery is not None and self.action is not Action.DISCOVERY:
            raise ValueError(
                "`discovery` (the kind of list) applies only to `action: discovery` routes; lists of people in "
                "other answers (`response.lists`) are judged by the discovery rules that name no kind"
            )
        return self

    @model_validator(mode="after")
    def _not_found_names_the_templates_parameters(self) -> Route:
        if self.not_found is None:
            return self
        try:
            params = template_params(self.path)
        except ConfigurationError:
            return self  # the template's own problem is reported where it is
        for where, name in _PLACEHOLDER.findall(self.not_found.body):
            if where == "path" and name not in params:
                raise ValueError(
                    f"`not_found.body` names {{path.{name}}}: the template {self.path!r} has no {{{name}}}"
                )
        return self


def _reads_body(target: TargetSource) -> bool:
    if isinstance(target, (JsonTarget, FormTarget)):
        return True
    return isinstance(target, SqlTarget) and any(v.startswith(("json.", "form.")) for v in target.params.values())


# --- rules --------------------------------------------------------------------------------


class Range(_Frozen):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class PercentRange(_Frozen):
    min: int | None = Field(default=None, ge=0, le=100)
    max: int | None = Field(default=None, ge=0, le=100)


class ActorCount(_Frozen):
    """The actor's current count under a count signal of the policy, in its window."""

    signal: str = Field(description="Id of an enabled count signal (`signals.counts`).")
    min: int = Field(ge=1, description="The condition holds from this count on.")


class Conditions(_Frozen):
    """All given conditions must hold for the rule to apply. Absent means "any"."""

    target_band: tuple[BandName, ...] | None = None
    actor_band: tuple[BandName, ...] | None = None
    connected: bool | None = Field(default=None, description="Actor is one of the target's connections.")
    mutual_connections: Range | None = None
    actor_assurance_below: AssuranceName | None = Field(
        default=None, description="Applies only when the actor's assurance is below this level."
    )
    target_assurance_below: AssuranceName | None = None
    actor_restricted: bool | None = Field(
        default=None, description="Actor is under a restriction raised by an alert or a moderator."
    )
    target_restricted: bool | None = Field(
        default=None, description="Target is restricted (e.g. keep restricted accounts out of minors' discovery)."
    )
    anonymous: bool | None = Field(default=None, description="No authenticated actor.")
    actor_account_age_days: Range | None = Field(
        default=None,
        description="Days since the actor's account was created (`accounts.created_at`, whole or part days). "
        "An account the lookup gives no date for counts as created now (0 days), as does an anonymous actor.",
    )
    actor_count: ActorCount | None = Field(
        default=None,
        description="The actor's count under a count signal (its events or distinct others in its window, "
        "this request not included) is at least `min`: a cap before any alert. Read from the signal store "
        "when the grooming-signal pipeline is attached; without it (or for an anonymous actor) the count is 0. "
        "Events still on their way to the store are not counted yet.",
    )
    discovery: tuple[DiscoveryKind, ...] | None = Field(
        default=None,
        min_length=1,
        description="`discovery` rules only: the route's kind of list (its `discovery`) is one of these. Such a "
        "rule applies only on routes that declare one of the kinds: never on a discovery route without a kind, "
        "nor on the lists inside other answers (`response.lists`). Chosen with the route, at start-up.",
    )


class RuleLog(_Frozen):
    """How many of a rule's decisions the decision log keeps."""

    sample: float = Field(
        default=1, gt=0, le=1, strict=True,
        description="The share of the rule's decisions written to the decision log (0 < sample <= 1), "
        "chosen by a hash of each decision's id; each row written keeps the rate (`sample_rate`) so "
        "counts can be scaled up. Only on `then: allow` rules of actions that change nothing "
        "(`profile_view`, `discovery`), and only when the request's answer is left as the app made it.",
    )


class Rule(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    action: Action | tuple[Action, ...]
    when: Conditions = Conditions()
    then: Outcome
    reason: str = Field(description="Shown to moderators and in problem details; never names the target.")
    mode: Mode | None = Field(default=None, description="Overrides the policy's mode for this rule.")
    on_failure: Failure | None = Field(default=None, description="Overrides `defaults.on_failure`.")
    enabled: bool = True
    log: RuleLog | None = Field(
        default=None, description="`{sample: 0.1}`: log a share of this `allow` rule's decisions. Default: every one."
    )

    @model_validator(mode="after")
    def _discovery_kinds_on_discovery(self) -> Rule:
        if self.when.discovery is not None and self.action is not Action.DISCOVERY:
            raise ValueError(
                "`when.discovery` (kinds of list) applies only to rules whose `action` is `discovery` alone"
            )
        return self


# --- relationships, queries, identity, bands ----------------------------------------------


class Lookup(_Frozen):
    """A named SQL query against the app's own tables, or a Python callable. Exactly one."""

    sql: str | None = None
    callable: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Lookup:
        if (self.sql is None) == (self.callable is None):
            raise ValueError("give exactly one of `sql` or `callable`")
        return self


class Relationships(_Frozen):
    connected: Lookup | None = Field(
        default=None,
        description="Rows of `:actor`'s connections among `:targets` (first column: the account id).",
    )
    mutual_count: Lookup | None = Field(
        default=None, description="One row: how many connections `:actor` and `:target` share."
    )
    community_ties: Lookup | None = Field(
        default=None,
        description="One row: how many of `:target`'s connections are in `:actor`'s circle as the host "
        "defines it (e.g. long-standing connections, accounts the actor just sent requests to); `:now` is "
        "the middleware clock's time in seconds since the epoch. Read once per contact request to a minor, "
        "never cached, for signals that say `where: {community_ties: ...}`.",
    )
    vouched: Lookup | None = Field(
        default=None,
        description="A row when `:account` is vouched for by the platform (e.g. verified as a school's or "
        "club's staff), none when not; a first column that is false, 0 or NULL counts as not vouched. Read "
        "once per contact request to a minor and per answer by one, when a signal filters that event by "
        "`where: {vouched: ...}`; never cached. Without it (or when it cannot be read) nobody is vouched.",
    )
    adult_connections: Lookup | None = Field(
        default=None,
        description="One row: the percentage (0-100) of `:account`'s connections who are adults; no row or "
        "NULL when it has too few connections to say (the query decides how few). `:adult_born_by` is the "
        "latest birth date of an adult today by the middleware clock (`YYYY-MM-DD`), `:now` that clock's time "
        "in seconds since the epoch; both optional. Read once per event a signal filters by "
        "`where: {subject_adult_connections: ...}`; never cached.",
    )
    cache_seconds: float = Field(default=30.0, ge=0)
    cache_size: int = Field(
        default=100_000, gt=0, description="Pairs remembered per worker (each way counts once)."
    )


class Accounts(_Frozen):
    """Facts about one account from the host app's own tables, for conditions on the actor."""

    created_at: Lookup | None = Field(
        default=None,
        description="When `:account` was created: the first column of the first row, a date, a timestamp "
        "(one without a zone is UTC) or seconds since the epoch; no row or null: no date.",
    )
    cache_seconds: float = Field(default=3600.0, ge=0, description="How long a creation date is remembered.")
    cache_size: int = Field(default=100_000, gt=0, description="Accounts remembered per worker.")

    @model_validator(mode="after")
    def _created_at_names_the_account(self) -> Accounts:
        sql = self.created_at.sql if self.created_at is not None else None
        if sql is not None and ":account" not in sql:
            raise ValueError("`created_at` must use :account (the account whose creation date it reads)")
        return self


class ScopeUserIdentity(_Frozen):
    source: Literal["scope_user"]
    attribute: str = "identity"


class HeaderIdentity(_Frozen):
    source: Literal["header"]
    header: str
    trusted_proxies: tuple[str, ...] = Field(min_length=1)


class JwtIdentity(_Frozen):
    source: Literal["jwt"]
    header: str | None = "authorization"
    cookie: str | None = None
    query: str | None = None
    algorithms: tuple[str, ...] = ("HS256",)
    key_env: str = Field(description="Environment variable holding the key (never the key itself).")
    claim: str = "sub"
    audience: str | None = None
    issuer: str | None = None
    leeway_seconds: float = 0


class CallableIdentity(_Frozen):
    source: Literal["callable"]
    callable: str = Field(
        description="`module:function` called as `f(scope, headers)` (or awaited, if `async def`), "
        "returning the account id, or None for anonymous."
    )


IdentitySource = Annotated[
    ScopeUserIdentity | HeaderIdentity | JwtIdentity | CallableIdentity, Field(discriminator="source")
]


class OwnBands(_Frozen):
    source: Literal["table"] = "table"


class HostBands(_Frozen):
    source: Literal["host"]
    table: str
    id_column: str
    birth_date_column: str
    assurance: AssuranceName = "self_declared"


class BandCacheSettings(_Frozen):
    size: int = Field(default=100_000, gt=0)
    ttl_seconds: float = Field(default=300.0, gt=0)


class Bands(_Frozen):
    store: OwnBands | HostBands = Field(default_factory=OwnBands, discriminator="source")
    cache: BandCacheSettings = BandCacheSettings()


# --- signals ------------------------------------------------------------------------------


class EventKind(enum.StrEnum):
    """Events recorded about a *subject* (the account reaching out), with an *other* (the one
    reached: usually the child)."""

    CONTACT_REQUEST = "contact_request"
    CONTACT_REJECTED = "contact_rejected"
    CONTACT_ACCEPTED = "contact_accepted"
    BLOCKED = "blocked"
    REPORTED = "reported"
    DM_DENIED = "direct_message_denied"
    # A direct message that reached the other account (the app answered it with success).
    # Recorded only when an enabled count signal counts it: a policy without one pays
    # nothing per message.
    DIRECT_MESSAGE = "direct_message"


class SignalFilter(_Frozen):
    other_band: tuple[BandName, ...] | None = None
    subject_band: tuple[BandName, ...] | None = Field(
        default=None,
        description="Contact requests and direct messages only: the band of the account reaching out "
        "(`minor`: an account that says it is under 18). Other events match no `subject_band`.",
    )
    mutual_connections: Range | None = None
    community_ties: Range | None = Field(
        default=None,
        description="Contact requests only: the `relationships.community_ties` count of the pair "
        "(0: the child shares nothing with the actor's circle). Needs that lookup.",
    )
    subject_adult_connections: PercentRange | None = Field(
        default=None,
        description="Contact requests to minors and minors' answers only: the percentage of the subject's own "
        "connections who are adults (`relationships.adult_connections`): `{min: 60}`, an account whose circle is "
        "mostly adults. Too few connections to say, or a lookup that cannot be read, matches no range. Needs that "
        "lookup.",
    )
    refused: bool | None = Field(
        default=None,
        description="false: only attempts that reached the other account (not refused by an enforced rule); "
        "true: only refused ones. Absent: both.",
    )
    vouched: bool | None = Field(
        default=None,
        description="Contact requests to minors and minors' answers only: false counts only accounts the "
        "platform has not vouched for (`relationships.vouched`; without that lookup, or when it cannot be read, "
        "nobody is vouched), true only vouched ones. Absent: both. Other events match no `vouched: true`.",
    )
    accepted_within: str | None = Field(
        default=None,
        pattern=r"^\d+[smhd]$",
        description="Only events whose other account accepted a contact request from the subject at most this "
        "long before (`10m`): a direct message within minutes of a child accepting. The signal store keeps each "
        "acceptance (the pair and its time, nothing else) for the longest such duration of the policy.",
    )
    at_night: bool | None = Field(
        default=None,
        description="true: only events at night by `signals.night` (its hours, in its time zone); false: only "
        "events outside them. Absent: both.",
    )


class Escalation(_Frozen):
    restrict: bool = Field(default=False, description="Restrict the subject until a moderator decides.")


class CountSignal(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    event: EventKind
    where: SignalFilter = SignalFilter()
    window: str = Field(description="Sliding window: `30m`, `24h`, `7d`.", pattern=r"^\d+[smhd]$")
    count: Literal["events", "distinct_others"] = "events"
    threshold: int | None = Field(default=None, gt=0, description="Required unless `alert: false`.")
    reason: str
    escalate: Escalation = Escalation()
    enabled: bool = True
    alert: bool = Field(
        default=True,
        description="false: counted for rules (`actor_count`) and rates, never an alert of its own (no threshold).",
    )

    @model_validator(mode="after")
    def _threshold_if_alerting(self) -> CountSignal:
        if self.alert and self.threshold is None:
            raise ValueError("a count signal that alerts needs a `threshold` (or say `alert: false`)")
        if not self.alert and (self.threshold is not None or self.escalate.restrict):
            raise ValueError("a count signal with `alert: false` raises no alert: no `threshold`, no `escalate`")
        return self


class RateSignal(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    numerator: str = Field(description="Id of a count signal.")
    denominator: str = Field(description="Id of a count signal.")
    min_denominator: int = Field(gt=0)
    threshold: float = Field(gt=0, le=1)
    reason: str
    escalate: Escalation = Escalation()
    enabled: bool = True


_CLOCK_TIME = r"^([01]\d|2[0-3]):[0-5]\d$"


class NightHours(_Frozen):
    """When `where: {at_night: true}` holds: from `from` to `to` (across midnight when `to` is earlier), in
    `timezone`. One zone for the whole policy: the platform's users' (a per-account zone would need a lookup
    per event)."""

    from_: str = Field(default="22:00", alias="from", pattern=_CLOCK_TIME, description="`HH:MM`, 24-hour clock.")
    to: str = Field(
        default="06:00", pattern=_CLOCK_TIME, description="`HH:MM`, 24-hour clock; the night ends before it."
    )
    timezone: str = Field(
        default="UTC", min_length=1, description="An IANA time zone name (`Europe/London`): the users' local time."
    )

    @model_validator(mode="after")
    def _some_hours(self) -> NightHours:
        if self.from_ == self.to:
            raise ValueError("`from` and `to` are the same time: the night would be empty")
        return self


class ScorePart(_Frozen):
    signal: str = Field(description="Id of a count or rate signal (`signals.counts`, `signals.rates`).")
    weight: float = Field(
        ge=0,
        description="What one unit of the signal's current value adds to the score (a count's event or other; "
        "a rate's value, 0-1, once its `min_denominator` is met). 0 leaves the part out (an app's policy can drop "
        "a base's part this way).",
    )


class Score(_Frozen):
    """A risk score per account: weak signals combined with declared weights. It alerts when the sum of each
    part's weight times its signal's current value reaches `threshold`; each part's value, weight and
    contribution go in the alert's evidence."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    threshold: float = Field(gt=0, description="The score from which the account is alerted.")
    parts: tuple[ScorePart, ...] = Field(min_length=1, description="The signals combined, each with its weight.")
    reason: str
    escalate: Escalation = Escalation()
    enabled: bool = True

    @model_validator(mode="after")
    def _some_weight(self) -> Score:
        if not any(part.weight > 0 for part in self.parts):
            raise ValueError("every part has weight 0: the score could never reach its threshold")
        return self


class Signals(_Frozen):
    night: NightHours = NightHours()
    counts: tuple[CountSignal, ...] = ()
    rates: tuple[RateSignal, ...] = ()
    scores: tuple[Score, ...] = Field(
        default=(),
        description="Risk scores over count and rate signals (often ones with `alert: false`): see docs/signals.md.",
    )


class Pool(_Frozen):
    """Each worker's pool of PostgreSQL connections, shared by its lookups and its writers.
    (SQLite keeps SQLAlchemy's own pool: one file, one writer at a time.)"""

    size: int = Field(
        default=10, gt=0, description="Connections kept open per worker. Workers times this must stay "
        "within the server's `max_connections`, beside the app's own pool.",
    )
    overflow: int = Field(
        default=10, ge=0, description="Connections opened beyond `size` under a burst, closed again when "
        "returned. A lookup that finds none free waits in line only while its query could still finish "
        "within `time_budget_ms`.",
    )


class Defaults(_Frozen):
    unknown_age: Literal["minor", "adult"] = Field(
        default="minor", description="How `unknown` counts in `minor`. Protective default: minor."
    )
    on_failure: Failure = Failure.CLOSED
    time_budget_ms: float = Field(default=250, gt=0)
    pool: Pool = Pool()
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    not_found: NotFound | None = Field(
        default=None,
        description="Every route's `not_found` unless it gives its own. Default: the framework's own 404 "
        "(FastAPI's `{\"detail\":\"Not Found\"}` JSON when the app is FastAPI, else Starlette's plain `Not Found`).",
    )


class ReviewedRoute(_Frozen):
    """An app route deliberately left out of the route map, and why (for `policy coverage`)."""

    method: str | tuple[str, ...]
    path: str = Field(description="The app's own template, as its router declares it.")
    reason: str


class PolicyTest(_Frozen):
    """A case the policy carries: given accounts and a request (or an action and a target),
    the expected decision. Like `opa test` and Cerbos' policy tests."""

    name: str
    accounts: dict[str, str] = Field(description="account id -> band (optionally `band/assurance`).")
    connections: tuple[tuple[str, str], ...] = ()
    mutual: dict[str, int] = Field(
        default_factory=dict, description="`a,b` -> mutual connections of that pair (default 0)."
    )
    restricted: tuple[str, ...] = ()
    account_age_days: dict[str, float] = Field(
        default_factory=dict, description="account id -> days since it was created (default: created now)."
    )
    counts: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="account id -> {count signal id -> its current count} (default 0)."
    )
    actor: str | None = None
    request: str | None = Field(default=None, description="`METHOD /path?query`, routed by the policy.")
    action: Action | None = Field(default=None, description="Or: the action, tested against `target`.")
    target: str | None = None
    json_: object | None = Field(default=None, alias="json")
    form: dict[str, str] | None = None
    expect: Outcome
    rule: str | None = None
    mode: Mode | None = Field(default=None, description="Expected mode of the deciding rule.")
    discovery: DiscoveryKind | None = Field(
        default=None,
        description="With `action: discovery`: the kind of list the target is shown in (default: none). A "
        "`request` test takes the kind of the route it reaches.",
    )

    @model_validator(mode="after")
    def _request_or_action(self) -> PolicyTest:
        if (self.request is None) == (self.action is None):
            raise ValueError("give either `request` or `action` (with `target`)")
        if self.action is not None and self.target is None and self.action is not Action.DISCOVERY:
            raise ValueError("an `action` test needs a `target`")
        if self.discovery is not None and self.action is not Action.DISCOVERY:
            raise ValueError("`discovery` goes with `action: discovery` (a `request` test takes its route's kind)")
        return self


# --- moderation -----------------------------------------------------------------------------


ItemKindName = Literal["alert", "report"]
HostActionName = Literal["warn", "restrict", "lift", "suspend", "refer_law_enforcement"]


class DueTime(_Frozen):
    """How soon a moderator must decide on an item: the first entry that matches it sets its
    due time (the item's creation + `within`); an item no entry matches has none."""

    item: ItemKindName = Field(description="`alert` (a grooming alert) or `report` (a child-endangerment report).")
    reporter_band: tuple[BandName, ...] | None = Field(
        default=None, description="Reports only: the reporter's band (`minor` for every under-18)."
    )
    signal: tuple[str, ...] | None = Field(default=None, description="Alerts only: the signal ids it applies to.")
    within: str = Field(description="`30m`, `24h`, `7d`.", pattern=r"^\d+[smhd]$")

    @model_validator(mode="after")
    def _fits_the_item(self) -> DueTime:
        if self.item == "alert" and self.reporter_band is not None:
            raise ValueError("`reporter_band` applies only to `item: report`")
        if self.item == "report" and self.signal is not None:
            raise ValueError("`signal` applies only to `item: alert`")
        return self


# Children's reports first (a day, as Ofcom's codes expect "swift" action on reports from
# children), alerts within a day too (the account is usually restricted meanwhile, which
# is unfair if it is wrong), other reports within three days.
DEFAULT_DUE = (
    DueTime(item="report", reporter_band=("minor",), within="24h"),
    DueTime(item="alert", within="24h"),
    DueTime(item="report", within="72h"),
)


class ActionWebhook(_Frozen):
    """A signed POST to the host app for each moderator's action it must carry out (a
    suspension, a warning), so that the action takes effect in the app itself."""

    url_env: str = Field(description="Environment variable holding the URL (http:// or https://).")
    secret_env: str = Field(description="Environment variable holding the signing secret (16 bytes or more).")
    actions: tuple[HostActionName, ...] = Field(
        default=("warn", "restrict", "lift", "suspend", "refer_law_enforcement"),
        min_length=1,
        description="The actions sent.",
    )
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


DEFAULT_RESTRICTED_NOTICE = "This is not available to your account at the moment."


class Moderation(_Frozen):
    """What the moderation app, its command line and the refusals of restricted accounts need."""

    display: Lookup | None = Field(
        default=None,
        description="How accounts appear to moderators: rows of (account id, display name, handle) for the ids "
        "in `:accounts`. Without it moderators see bare ids.",
    )
    due: tuple[DueTime, ...] = Field(
        default=DEFAULT_DUE, description="Due times by item; the first that matches applies."
    )
    restricted_notice: str = Field(
        default=DEFAULT_RESTRICTED_NOTICE,
        min_length=1,
        description="What a restricted account is told when a rule on `actor_restricted: true` refuses it. It "
        "must not say that the accounts it tried to reach are children, nor that a moderator is looking; the "
        "rule's id is not sent either (the decision id finds the row).",
    )
    webhook: ActionWebhook | None = Field(
        default=None, description="A signed webhook to the host for the actions it carries out."
    )


class PolicyFile(_Frozen):
    """One policy file as written. `extends` merges a base (by rule/signal/route id)."""

    version: Literal[1]
    name: str
    extends: str | None = Field(default=None, description="`baseline` (bundled) or a relative path.")
    mode: Mode = Mode.ENFORCE
    defaults: Defaults = Defaults()
    identity: tuple[IdentitySource, ...] = ()
    bands: Bands = Bands()
    relationships: Relationships = Relationships()
    accounts: Accounts = Accounts()
    queries: dict[str, Lookup] = Field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()
    signals: Signals = Signals()
    moderation: Moderation = Moderation()
    reviewed: tuple[ReviewedRoute, ...] = Field(
        default=(), description="App routes reviewed and deliberately not classified."
    )
    tests: tuple[PolicyTest, ...] = ()

    @model_validator(mode="after")
    def _account_ages_have_a_source(self) -> PolicyFile:
        if self.accounts.created_at is None:
            for rule in self.rules:
                if rule.enabled and rule.when.actor_account_age_days is not None:
                    raise ValueError(
                        f"rule {rule.id!r} uses `actor_account_age_days`: say where account creation dates are "
                        "(`accounts: {created_at: {sql: \"SELECT created_at FROM users WHERE id = :account\"}}`)"
                    )
        counted = {signal.id for signal in self.signals.counts if signal.enabled}
        for rule in self.rules:
            wanted = rule.when.actor_count
            if rule.enabled and wanted is not None and wanted.signal not in counted:
                raise ValueError(
                    f"rule {rule.id!r} reads `actor_count` of {wanted.signal!r}, which is not an enabled count "
                    "signal under `signals.counts`"
                )
        return self
