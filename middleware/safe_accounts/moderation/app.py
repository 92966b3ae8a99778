"""The moderation app: a Starlette app the host mounts behind its own authentication.

    app.routes.append(Mount("/safe-accounts", moderation_app(
        middleware.engine, policy=middleware.policy,
        is_moderator=lambda r: "moderator" in r.auth.scopes,
        moderator_id=lambda r: r.user.identity,
        restrictions=restrictions_of(middleware), on_action=carry_out)))

Pages (server-rendered HTML, inline CSS, no script, no external asset): the queue of cases,
a case with everything about its account and the forms to claim, decide, hold and export
it, the transparency report with weekly charts. The same through JSON under `/api/`.
Anyone `is_moderator` refuses gets a 403; every form carries a CSRF token (csrf.py); the
JSON API accepts only `application/json` bodies. A refusal is an HTML page on the pages
and RFC 9457 problem details under `/api/`.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..alerts.restrictions import Restrictions
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError, StorageError
from ..pipeline.problem import problem_body
from ..policy.loader import load_policy
from ..policy.model import PolicyFile
from .actions import Moderation
from .cases import (
    CaseDetail,
    UnknownCase,
    accounts_on,
    case_detail,
    case_of_item,
    count_open,
    open_cases,
)
from .casework import Casework
from .csrf import FIELD, CsrfTokens
from .display import AccountNames
from .due import DueTimes
from .effects import Effects, RestrictionsSource
from .evidence import KEY_ENV, ExportKey, digest_of, export_case
from .hooks import HostCallback, HostHooks
from .model import InvalidAction, ModerationAction, UnknownItem
from .pages import render
from .queue import ModerationQueue
from .render import to_html
from .transparency import InvalidPeriod, Period, transparency_report

if TYPE_CHECKING:  # the middleware sits beside this app, and is only named here
    from ..middleware import SafeAccountsMiddleware

ModeratorCheck = Callable[[Request], bool | Awaitable[bool]]

ACTION_LABELS = (
    (ModerationAction.ACK, "Acknowledge"),
    (ModerationAction.DISMISS, "Dismiss"),
    (ModerationAction.WARN, "Warn"),
    (ModerationAction.RESTRICT, "Restrict"),
    (ModerationAction.LIFT, "Lift restriction"),
    (ModerationAction.SUSPEND, "Suspend"),
    (ModerationAction.REFER_LAW_ENFORCEMENT, "Refer to law enforcement"),
    (ModerationAction.NOTE, "Add note"),
)

# Problem types of the moderation app (docs/moderation.md).
NOT_A_MODERATOR = ("not-a-moderator", "Moderators only")
CSRF_REFUSED = ("csrf-token", "This form has expired")
UNKNOWN_ITEM = ("unknown-item", "No such case or item")
INVALID_ACTION = ("invalid-action", "Action not possible")
INVALID_PERIOD = ("invalid-period", "Invalid report period")
NOT_JSON = ("not-json", "JSON body required")
NO_EXPORT_KEY = ("no-export-key", "Evidence export is not set up")
UNAVAILABLE = ("unavailable", "Storage unavailable")

_NO_STORE = {"cache-control": "no-store"}
# Our pages need nothing from elsewhere: inline styles and SVG only, no scripts at all.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {**_NO_STORE, "x-frame-options": "DENY", "content-security-policy": _CSP}


class Refused(Exception):
    """A request we turn down: an HTML page on the pages, a problem document on the API."""

    def __init__(
        self, kind: tuple[str, str], status: int, detail: str, *, back: tuple[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.kind, self.status, self.detail = kind, status, detail
        self.back = back  # (path under the mount, label): where the error page sends you


def _problem(kind: tuple[str, str], status: int, detail: str) -> Response:
    return Response(
        problem_body(kind[0], kind[1], status, detail),
        status_code=status,
        media_type="application/problem+json",
        headers=_NO_STORE,
    )


def _json(document: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(document), status_code=status, media_type="application/json", headers=_NO_STORE
    )


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def _policy(policy: Any) -> PolicyFile | None:
    """A `PolicyFile`, the middleware's compiled policy (`middleware.policy`), or a path."""
    if policy is None or isinstance(policy, PolicyFile):
        return policy
    inner = getattr(policy, "policy", None)
    if isinstance(inner, PolicyFile):
        return inner
    if isinstance(policy, str | os.PathLike):
        return load_policy(Path(policy)).policy
    raise ConfigurationError(f"policy= must be a policy file's path or a loaded policy, not {policy!r}")


def _export_key(key: ExportKey | bytes | str | None) -> ExportKey | None:
    if isinstance(key, ExportKey):
        return key
    if key is None:
        return ExportKey.from_env() if os.environ.get(KEY_ENV) else None
    return ExportKey(key.encode() if isinstance(key, str) else key)


class ModerationApp:
    """The handlers; `moderation_app` builds the Starlette app around them."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        is_moderator: ModeratorCheck,
        moderator_id: Callable[[Request], str],
        policy: PolicyFile | None,
        restrictions: RestrictionsSource | None,
        on_action: HostCallback | None,
        clock: Clock,
        csrf_secret: bytes | str | None,
        export_key: ExportKey | None,
        report_weeks: int,
    ) -> None:
        due = DueTimes.of(policy)
        hooks = HostHooks.of(policy, callback=on_action, clock=clock)
        effects = Effects(engine, restrictions=restrictions, hooks=hooks, clock=clock)
        self.work = Casework(engine, effects=effects, due=due, clock=clock)
        self.items = ModerationQueue(engine)
        self.moderation = Moderation(engine, restrictions=restrictions, hooks=hooks, due=due, clock=clock)
        self.names = AccountNames.of_policy(policy, engine)
        self.csrf = CsrfTokens(csrf_secret, clock=clock)
        self.hooked = hooks.configured
        self._engine = engine
        self._is_moderator = is_moderator
        self._moderator_id = moderator_id
        self._clock = clock
        self._export_key = export_key
        self._report_weeks = report_weeks

    # --- who may -------------------------------------------------------------------------

    async def moderator(self, request: Request) -> str:
        allowed = self._is_moderator(request)
        if inspect.isawaitable(allowed):
            allowed = await allowed
        if not allowed:
            raise Refused(NOT_A_MODERATOR, 403, "This page is for the platform's moderators.")
        who = str(self._moderator_id(request) or "").strip()
        if not who:
            raise Refused(NOT_A_MODERATOR, 403, "The moderator could not be identified.")
        return who

    async def page(self, request: Request, template: str, moderator: str, **context: Any) -> HTMLResponse:
        me = (await self.names.of([moderator]))[moderator]
        html = render(
            template,
            nav=True,
            base_path=_base(request),
            moderator=me.label,
            now=self._clock.now(),
            **context,
        )
        return HTMLResponse(html, headers=_PAGE_HEADERS)

    async def _form(self, request: Request, who: str, back: tuple[str, str]) -> dict[str, str]:
        """The posted form's text fields, once its CSRF token is checked."""
        form = await request.form()
        try:
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        finally:
            await form.close()
        if not self.csrf.valid(who, fields.get(FIELD)):
            raise Refused(
                CSRF_REFUSED,
                403,
                "Forms are valid for 12 hours and only for the moderator they were shown to. "
                "Nothing was changed: open the page again and repeat what you were doing.",
                back=back,
            )
        return fields

    # --- the queue and a case (HTML) -----------------------------------------------------

    async def queue_page(self, request: Request) -> Response:
        who = await self.moderator(request)
        now = self._clock.now()
        await self.work.file()
        found = await open_cases(self._engine, now=now)
        total, overdue = await count_open(self._engine, now=now)
        names = await self.names.of([c.account_id for c in found] + [c.claimed_by for c in found])
        return await self.page(
            request,
            "queue.html",
            who,
            title="Moderation queue",
            cases=found,
            names=names,
            total=total,
            overdue=overdue,
            me=who,
        )

    async def case_page(self, request: Request) -> Response:
        who = await self.moderator(request)
        detail = await self._case(request.path_params["case_id"])
        return await self.page(
            request,
            "case.html",
            who,
            title=detail.name(detail.account_id),
            case=detail,
            me=who,
            actions=ACTION_LABELS,
            csrf_token=self.csrf.issue(who),
            can_export=self._export_key is not None,
            hooked=self.hooked,
        )

    async def case_form(self, request: Request) -> Response:
        """Every POST on a case page: claim, release, an action, hold, release the hold."""
        who = await self.moderator(request)
        case_id, what = request.path_params["case_id"], request.path_params["what"]
        back = (f"/cases/{case_id}", "Back to the case")
        fields = await self._form(request, who, back)
        try:
            if what == "claim":
                await self.work.claim(case_id, by=who, take_over=fields.get("take_over") == "yes")
            elif what == "release":
                await self.work.unclaim(case_id, by=who)
            elif what == "actions":
                action = fields.get("action")
                if not action:
                    raise Refused(INVALID_ACTION, 400, "Choose an action.", back=back)
                await self.work.act(case_id, action, by=who, note=fields.get("note", ""))
            elif what == "hold":
                await self.work.hold(case_id, by=who, note=fields.get("note", ""))
            elif what == "release-hold":
                await self.work.release_hold(case_id, by=who, note=fields.get("note", ""))
            else:
                raise Refused(UNKNOWN_ITEM, 404, "There is no such form on a case.", back=back)
        except UnknownItem as exc:
            raise Refused(UNKNOWN_ITEM, 404, str(exc), back=("/", "Back to the queue")) from None
        except InvalidAction as exc:
            raise Refused(INVALID_ACTION, 400, str(exc), back=back) from None
        return RedirectResponse(f"{_base(request)}/cases/{case_id}", status_code=303)

    async def export_form(self, request: Request) -> Response:
        who = await self.moderator(request)
        case_id = request.path_params["case_id"]
        await self._form(request, who, (f"/cases/{case_id}", "Back to the case"))
        bundle = await self._export(case_id, who)
        return Response(
            orjson.dumps(bundle, option=orjson.OPT_INDENT_2),
            media_type="application/json",
            headers={
                **_NO_STORE,
                "content-disposition": f'attachment; filename="case-{case_id}-evidence.json"',
            },
        )

    async def item_page(self, request: Request) -> Response:
        """An item's page is its case's (old links, alert notifications); an item that was
        decided before cases existed keeps a page of its own."""
        who = await self.moderator(request)
        item_id = request.path_params["item_id"]
        await self.work.file()
        case_id = await case_of_item(self._engine, item_id)
        if case_id is not None:
            return RedirectResponse(f"{_base(request)}/cases/{case_id}#item-{item_id}", status_code=303)
        item = await self._item(item_id)
        return await self.page(
            request,
            "item.html",
            who,
            title=item.title,
            item=item,
            actions=ACTION_LABELS,
            csrf_token=self.csrf.issue(who),
        )

    async def item_form(self, request: Request) -> Response:
        who = await self.moderator(request)
        item_id = request.path_params["item_id"]
        back = (f"/items/{item_id}", "Back to the item")
        fields = await self._form(request, who, back)
        action = fields.get("action")
        if not action:
            raise Refused(INVALID_ACTION, 400, "Choose an action.", back=back)
        await self._take(item_id, action, who, fields.get("note", ""), back)
        return RedirectResponse(f"{_base(request)}/items/{item_id}", status_code=303)

    async def transparency_page(self, request: Request) -> Response:
        who = await self.moderator(request)
        await self.work.file()
        report = await transparency_report(self._engine, self._period(request), clock=self._clock)
        me = (await self.names.of([who]))[who]
        html = to_html(report, nav=True, base_path=_base(request), moderator=me.label, period_form=True)
        return HTMLResponse(html, headers=_PAGE_HEADERS)

    # --- JSON ----------------------------------------------------------------------------

    async def api_cases(self, request: Request) -> Response:
        await self.moderator(request)
        now = self._clock.now()
        await self.work.file()
        found = await open_cases(self._engine, now=now)
        total, overdue = await count_open(self._engine, now=now)
        names = await self.names.of([c.account_id for c in found])
        return _json(
            {
                "cases": [
                    {**c.to_json(now), "account": names[c.account_id].to_json()} for c in found
                ],
                "count": len(found),
                "open": total,
                "overdue": overdue,
            }
        )

    async def api_case(self, request: Request) -> Response:
        await self.moderator(request)
        detail = await self._case(request.path_params["case_id"])
        return _json(detail.to_json(self._clock.now()))

    async def api_case_post(self, request: Request) -> Response:
        who = await self.moderator(request)
        case_id, what = request.path_params["case_id"], request.path_params["what"]
        body = await self._json_body(request)
        note = body.get("note") or ""
        if not isinstance(note, str):
            raise Refused(INVALID_ACTION, 400, '"note" must be a string.')
        try:
            if what == "claim":
                await self.work.claim(case_id, by=who, take_over=body.get("take_over") is True)
            elif what == "release":
                await self.work.unclaim(case_id, by=who)
            elif what == "actions":
                if not isinstance(body.get("action"), str):
                    raise Refused(INVALID_ACTION, 400, 'The body needs an "action" string.')
                record = await self.work.act(case_id, body["action"], by=who, note=note)
                return _json(record.to_json(), status=201)
            elif what == "hold":
                await self.work.hold(case_id, by=who, note=note)
            elif what == "release-hold":
                await self.work.release_hold(case_id, by=who, note=note)
            elif what == "export":
                return _json(await self._export(case_id, who))
            else:
                raise Refused(UNKNOWN_ITEM, 404, f"cases have no {what!r}")
        except UnknownItem as exc:
            raise Refused(UNKNOWN_ITEM, 404, str(exc)) from None
        except InvalidAction as exc:
            raise Refused(INVALID_ACTION, 400, str(exc)) from None
        return _json((await self._case(case_id)).to_json(self._clock.now()))

    async def api_item(self, request: Request) -> Response:
        await self.moderator(request)
        item_id = request.path_params["item_id"]
        await self.work.file()
        item = await self._item(item_id)
        return _json({**item.to_json(), "case_id": await case_of_item(self._engine, item_id)})

    async def api_item_action(self, request: Request) -> Response:
        who = await self.moderator(request)
        body = await self._json_body(request)
        if not isinstance(body.get("action"), str):
            raise Refused(INVALID_ACTION, 400, 'The body needs an "action" string.')
        note = body.get("note") or ""
        if not isinstance(note, str):
            raise Refused(INVALID_ACTION, 400, '"note" must be a string.')
        record = await self._take(request.path_params["item_id"], body["action"], who, note, None)
        return _json(record.to_json(), status=201)

    async def api_transparency(self, request: Request) -> Response:
        await self.moderator(request)
        await self.work.file()
        report = await transparency_report(self._engine, self._period(request), clock=self._clock)
        return _json(report.to_json())

    # --- shared --------------------------------------------------------------------------

    async def _json_body(self, request: Request) -> dict[str, Any]:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise Refused(NOT_JSON, 415, 'Send application/json, e.g. {"action": ..., "note": ...}.')
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise Refused(NOT_JSON, 400, "The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise Refused(NOT_JSON, 400, "The body must be a JSON object.")
        return body

    async def _case(self, case_id: str) -> CaseDetail:
        await self.work.file()
        try:
            detail = await case_detail(self._engine, case_id, now=self._clock.now())
        except UnknownCase:
            raise Refused(
                UNKNOWN_ITEM,
                404,
                "There is no case with this address: it may have been mistyped or copied "
                "incompletely.",
                back=("/", "Back to the queue"),
            ) from None
        return replace(detail, names=dict(await self.names.of(accounts_on(detail))))

    async def _item(self, item_id: str) -> Any:
        try:
            return await self.items.item(item_id)
        except UnknownItem:
            raise Refused(
                UNKNOWN_ITEM,
                404,
                "There is no alert or report with this address.",
                back=("/", "Back to the queue"),
            ) from None

    async def _take(
        self, item_id: str, action: str, who: str, note: str, back: tuple[str, str] | None
    ) -> Any:
        try:
            return await self.moderation.take(item_id, action, by=who, note=note)
        except UnknownItem as exc:
            raise Refused(UNKNOWN_ITEM, 404, str(exc), back=("/", "Back to the queue")) from None
        except InvalidAction as exc:
            raise Refused(INVALID_ACTION, 400, str(exc), back=back) from None

    async def _export(self, case_id: str, who: str) -> dict[str, Any]:
        if self._export_key is None:
            raise Refused(
                NO_EXPORT_KEY,
                409,
                f"Evidence bundles are signed with the platform's export key ({KEY_ENV}), "
                "which this app was not given.",
                back=(f"/cases/{case_id}", "Back to the case"),
            )
        try:
            bundle = await export_case(
                self._engine, case_id, key=self._export_key, by=who, names=self.names, clock=self._clock
            )
        except UnknownCase:
            raise Refused(
                UNKNOWN_ITEM, 404, "There is no case with this address.", back=("/", "Back to the queue")
            ) from None
        await self.work.exported(case_id, by=who, digest=digest_of(bundle))
        return bundle

    def _period(self, request: Request) -> Period:
        first, last = request.query_params.get("from"), request.query_params.get("to")
        try:
            return Period.around(
                first or None,
                last or None,
                today=self._clock.now(),
                weeks=self._report_weeks,
                labels=("From", "To"),
            )
        except InvalidPeriod as exc:
            raise Refused(INVALID_PERIOD, 400, str(exc), back=("/transparency", "Back to the report")) from None


def _guarded(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as refused:
            return _refusal(request, refused)
        except StorageError as exc:
            return _refusal(
                request,
                Refused(
                    UNAVAILABLE,
                    503,
                    f"The moderation records could not be reached. Try again shortly. ({exc})",
                ),
            )

    return endpoint


def _refusal(request: Request, refused: Refused) -> Response:
    if request.url.path[len(_base(request)) :].startswith("/api/"):
        return _problem(refused.kind, refused.status, refused.detail)
    back = refused.back
    if back is None and refused.kind is not NOT_A_MODERATOR:
        back = ("/", "Back to the queue")
    html = render(
        "error.html",
        nav=refused.kind is not NOT_A_MODERATOR,
        base_path=_base(request),
        moderator=None,
        title=refused.kind[1],
        status=refused.status,
        detail=refused.detail,
        back=back,
    )
    return HTMLResponse(html, status_code=refused.status, headers=_PAGE_HEADERS)


def moderation_app(
    engine: AsyncEngine,
    *,
    is_moderator: ModeratorCheck,
    moderator_id: Callable[[Request], str],
    policy: Any = None,
    restrictions: RestrictionsSource | None = None,
    on_action: HostCallback | None = None,
    clock: Clock = SYSTEM_CLOCK,
    csrf_secret: bytes | str | None = None,
    export_key: ExportKey | bytes | str | None = None,
    report_weeks: int = 12,
) -> Starlette:
    """The moderation app, to mount behind the host's authentication.

    `is_moderator(request)` (sync or async) decides who may use it; `moderator_id(request)`
    names them in the records. `policy` (the middleware's `middleware.policy`, a loaded
    `PolicyFile` or a path) gives the display lookup, the due times and the host webhook.
    `restrictions` should be the running middleware's (`restrictions_of(middleware)`), so a
    restriction bites at once; `on_action(HostAction)` is how the host carries out what only
    it can (suspend, warn). `csrf_secret` must be the same in every worker (default:
    `SAFE_ACCOUNTS_CSRF_SECRET`); `export_key` signs evidence bundles (default:
    `SAFE_ACCOUNTS_EXPORT_KEY`; without one, export is refused). The transparency page shows
    the last `report_weeks` weeks unless `?from=&to=` say otherwise.
    """
    if report_weeks < 1:
        raise ValueError("report_weeks must be at least 1")
    handlers = ModerationApp(
        engine,
        is_moderator=is_moderator,
        moderator_id=moderator_id,
        policy=_policy(policy),
        restrictions=restrictions,
        on_action=on_action,
        clock=clock,
        csrf_secret=csrf_secret,
        export_key=_export_key(export_key),
        report_weeks=report_weeks,
    )
    routes = [
        Route("/", _guarded(handlers.queue_page)),
        Route("/cases/{case_id}", _guarded(handlers.case_page)),
        Route("/cases/{case_id}/evidence", _guarded(handlers.export_form), methods=["POST"]),
        Route("/cases/{case_id}/{what}", _guarded(handlers.case_form), methods=["POST"]),
        Route("/items/{item_id}", _guarded(handlers.item_page)),
        Route("/items/{item_id}/actions", _guarded(handlers.item_form), methods=["POST"]),
        Route("/transparency", _guarded(handlers.transparency_page)),
        Route("/api/cases", _guarded(handlers.api_cases)),
        Route("/api/cases/{case_id}", _guarded(handlers.api_case)),
        Route("/api/cases/{case_id}/{what}", _guarded(handlers.api_case_post), methods=["POST"]),
        Route("/api/items/{item_id}", _guarded(handlers.api_item)),
        Route("/api/items/{item_id}/actions", _guarded(handlers.api_item_action), methods=["POST"]),
        Route("/api/transparency", _guarded(handlers.api_transparency)),
    ]
    app = Starlette(routes=routes)
    app.state.moderation = handlers
    return app


def restrictions_of(middleware: SafeAccountsMiddleware) -> Callable[[], Restrictions]:
    """The running middleware's `Restrictions` (`SafeAccountsMiddleware.restrictions`), looked
    up when an action needs it: the app is usually built before the middleware has started."""

    def current() -> Restrictions:
        return middleware.restrictions

    return current
