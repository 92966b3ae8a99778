"""The moderation app: a Starlette app the host mounts behind its own authentication.

    app.routes.append(Mount("/safe-accounts", moderation_app(
        engine, is_moderator=lambda r: "moderator" in r.user.scopes,
        moderator_id=lambda r: r.user.identity,
        restrictions=restrictions_of(middleware), on_suspend=suspend_account)))

Pages (server-rendered HTML, inline CSS, no external assets): the queue, an item with its
action forms, the transparency report with weekly charts. The same through JSON under
`/api/`. Anyone `is_moderator` refuses gets a 403 problem document; every form carries a
CSRF token (csrf.py); the JSON API accepts only `application/json` bodies.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import StorageError
from ..pipeline.problem import problem_body
from .actions import Moderation, RestrictionsSource, SuspendHook
from .csrf import FIELD, CsrfTokens
from .model import InvalidAction, ModerationAction, UnknownItem
from .pages import render
from .queue import ModerationQueue
from .render import to_html
from .transparency import InvalidPeriod, Period, transparency_report
from .weeks import as_date, monday_of

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
CSRF_REFUSED = ("csrf-token", "Form token missing or invalid")
UNKNOWN_ITEM = ("unknown-item", "No such item")
INVALID_ACTION = ("invalid-action", "Action not possible")
INVALID_PERIOD = ("invalid-period", "Invalid report period")
NOT_JSON = ("not-json", "JSON body required")
UNAVAILABLE = ("unavailable", "Storage unavailable")

_NO_STORE = {"cache-control": "no-store"}


class Refused(Exception):
    def __init__(self, kind: tuple[str, str], status: int, detail: str) -> None:
        self.response = _problem(kind, status, detail)


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


class ModerationApp:
    """The handlers; `moderation_app` builds the Starlette app around them."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        is_moderator: ModeratorCheck,
        moderator_id: Callable[[Request], str],
        restrictions: RestrictionsSource | None,
        on_suspend: SuspendHook | None,
        clock: Clock,
        csrf_secret: bytes | str | None,
        report_weeks: int,
    ) -> None:
        self.queue = ModerationQueue(engine)
        self.moderation = Moderation(
            engine, restrictions=restrictions, on_suspend=on_suspend, clock=clock
        )
        self.csrf = CsrfTokens(csrf_secret, clock=clock)
        self._engine = engine
        self._is_moderator = is_moderator
        self._moderator_id = moderator_id
        self._clock = clock
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

    def page(self, request: Request, template: str, moderator: str, **context: Any) -> HTMLResponse:
        html = render(
            template,
            nav=True,
            base_path=request.scope.get("root_path", ""),
            moderator=moderator,
            now=self._clock.now(),
            **context,
        )
        return HTMLResponse(
            html, headers={**_NO_STORE, "x-frame-options": "DENY", "content-security-policy": _CSP}
        )

    # --- HTML ----------------------------------------------------------------------------

    async def queue_page(self, request: Request) -> Response:
        who = await self.moderator(request)
        items = await self.queue.open_items()
        open_alerts, open_reports = await self.queue.count_open()
        return self.page(
            request,
            "queue.html",
            who,
            title="Moderation queue",
            items=items,
            open_alerts=open_alerts,
            open_reports=open_reports,
        )

    async def item_page(self, request: Request) -> Response:
        who = await self.moderator(request)
        item = await self._item(request.path_params["item_id"])
        return self.page(
            request,
            "item.html",
            who,
            title=item.title,
            item=item,
            actions=ACTION_LABELS,
            csrf_token=self.csrf.issue(who),
        )

    async def action_form(self, request: Request) -> Response:
        who = await self.moderator(request)
        form = await request.form()
        try:
            token = form.get(FIELD)
            if not isinstance(token, str) or not self.csrf.valid(who, token):
                raise Refused(
                    CSRF_REFUSED,
                    403,
                    "Reload the page and try again: the form's token is missing or stale.",
                )
            action, note = form.get("action"), form.get("note") or ""
            if not isinstance(action, str) or not isinstance(note, str):
                raise Refused(INVALID_ACTION, 400, "The form needs an action.")
        finally:
            await form.close()
        item_id = request.path_params["item_id"]
        await self._take(item_id, action, who, note)
        base = request.scope.get("root_path", "")
        return RedirectResponse(f"{base}/items/{item_id}", status_code=303)

    async def transparency_page(self, request: Request) -> Response:
        who = await self.moderator(request)
        report = await transparency_report(self._engine, self._period(request), clock=self._clock)
        html = to_html(
            report,
            nav=True,
            base_path=request.scope.get("root_path", ""),
            moderator=who,
            period_form=True,
        )
        return HTMLResponse(
            html, headers={**_NO_STORE, "x-frame-options": "DENY", "content-security-policy": _CSP}
        )

    # --- JSON ----------------------------------------------------------------------------

    async def api_queue(self, request: Request) -> Response:
        await self.moderator(request)
        items = await self.queue.open_items()
        open_alerts, open_reports = await self.queue.count_open()
        return _json(
            {
                "items": [i.to_json() for i in items],
                "count": len(items),
                "open": {"alerts": open_alerts, "reports": open_reports},
            }
        )

    async def api_item(self, request: Request) -> Response:
        await self.moderator(request)
        item = await self._item(request.path_params["item_id"])
        return _json(item.to_json())

    async def api_action(self, request: Request) -> Response:
        who = await self.moderator(request)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise Refused(
                NOT_JSON, 415, 'Send the action as application/json: {"action": ..., "note": ...}.'
            )
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise Refused(NOT_JSON, 400, "The body is not valid JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            raise Refused(INVALID_ACTION, 400, 'The body needs an "action" string.')
        note = body.get("note") or ""
        if not isinstance(note, str):
            raise Refused(INVALID_ACTION, 400, '"note" must be a string.')
        record = await self._take(request.path_params["item_id"], body["action"], who, note)
        return _json(record.to_json(), status=201)

    async def api_transparency(self, request: Request) -> Response:
        await self.moderator(request)
        report = await transparency_report(self._engine, self._period(request), clock=self._clock)
        return _json(report.to_json())

    # --- shared --------------------------------------------------------------------------

    async def _item(self, item_id: str) -> Any:
        try:
            return await self.queue.item(item_id)
        except UnknownItem as exc:
            raise Refused(UNKNOWN_ITEM, 404, str(exc)) from None

    async def _take(self, item_id: str, action: str, who: str, note: str) -> Any:
        try:
            return await self.moderation.take(item_id, action, by=who, note=note)
        except UnknownItem as exc:
            raise Refused(UNKNOWN_ITEM, 404, str(exc)) from None
        except InvalidAction as exc:
            raise Refused(INVALID_ACTION, 400, str(exc)) from None

    def _period(self, request: Request) -> Period:
        first, last = request.query_params.get("from"), request.query_params.get("to")
        try:
            if first or last:
                return Period.parse(first or "", last or "")
        except InvalidPeriod as exc:
            raise Refused(INVALID_PERIOD, 400, str(exc)) from None
        today = as_date(self._clock.now())
        return Period.of(monday_of(today) - timedelta(weeks=self._report_weeks - 1), today)


# Our pages need nothing from elsewhere: inline styles and SVG only, no scripts at all.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _guarded(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as refused:
            return refused.response
        except StorageError as exc:
            return _problem(UNAVAILABLE, 503, f"The moderation records could not be reached: {exc}")

    return endpoint


def moderation_app(
    engine: AsyncEngine,
    *,
    is_moderator: ModeratorCheck,
    moderator_id: Callable[[Request], str],
    restrictions: RestrictionsSource | None = None,
    on_suspend: SuspendHook | None = None,
    clock: Clock = SYSTEM_CLOCK,
    csrf_secret: bytes | str | None = None,
    report_weeks: int = 12,
) -> Starlette:
    """The moderation app, to mount behind the host's authentication.

    `is_moderator(request)` (sync or async) decides who may use it; `moderator_id(request)`
    names them in the records. `restrictions` should be the running middleware's
    (`restrictions_of(middleware)`), so a restriction bites at once; `on_suspend(account_id)`
    is the host's suspension. `csrf_secret` must be the same in every worker (default:
    `SAFE_ACCOUNTS_CSRF_SECRET`). The transparency page shows the last `report_weeks` weeks
    unless `?from=&to=` say otherwise.
    """
    if report_weeks < 1:
        raise ValueError("report_weeks must be at least 1")
    handlers = ModerationApp(
        engine,
        is_moderator=is_moderator,
        moderator_id=moderator_id,
        restrictions=restrictions,
        on_suspend=on_suspend,
        clock=clock,
        csrf_secret=csrf_secret,
        report_weeks=report_weeks,
    )
    routes = [
        Route("/", _guarded(handlers.queue_page)),
        Route("/items/{item_id}", _guarded(handlers.item_page)),
        Route("/items/{item_id}/actions", _guarded(handlers.action_form), methods=["POST"]),
        Route("/transparency", _guarded(handlers.transparency_page)),
        Route("/api/queue", _guarded(handlers.api_queue)),
        Route("/api/items/{item_id}", _guarded(handlers.api_item)),
        Route("/api/items/{item_id}/actions", _guarded(handlers.api_action), methods=["POST"]),
        Route("/api/transparency", _guarded(handlers.api_transparency)),
    ]
    app = Starlette(routes=routes)
    app.state.moderation = handlers
    return app


def restrictions_of(middleware: Any) -> Callable[[], Any]:
    """The running middleware's `Restrictions`, looked up when an action needs it (the app is
    usually built before the middleware has started)."""

    def current() -> Any:
        runtime = getattr(middleware, "runtime", None)
        alerts = None if runtime is None else runtime.extras.get("alerts")
        if alerts is None:
            raise StorageError(
                "the Safe Accounts middleware has not started (or runs without grooming alerts)"
            )
        return alerts.restrictions

    return current
