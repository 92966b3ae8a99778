"""The server-rendered pages. Each reads its data from the JSON API through the front
door (loopback.py), so a page shows a person exactly what the API would show them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from . import fields, loopback
from .auth import SESSION_COOKIE, DemoUser, Persona
from .forms import moved
from .runtime import runtime
from .service import accounts
from .tables import accounts as accounts_table
from .tables import suspensions as suspensions_table

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


STAFF_ROLES = frozenset({"moderator"})


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    user = request.scope.get("user")
    me = user.persona if isinstance(user, DemoUser) else None
    context.setdefault("problem", None)
    return templates.TemplateResponse(
        request,
        name,
        {
            "me": me,
            "staff_links": runtime(request).staff_links if me is not None and me.role in STAFF_ROLES else [],
            "notice": request.query_params.get("notice"),
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            **context,
        },
        status_code=status,
    )


class LogInFirst(Exception):
    """A page needs a logged-in person; the error handler sends them to /login."""


def _me(request: Request) -> Persona:
    user = request.scope.get("user")
    if not isinstance(user, DemoUser):
        raise LogInFirst()
    return user.persona


async def _api(request: Request, path: str, **query: Any) -> loopback.Reply:
    rt = runtime(request)
    return await loopback.get(rt.front or request.app, request, path, **query)


def _results(reply: loopback.Reply) -> list[dict[str, Any]]:
    return list(reply.body.get("results", [])) if reply.ok and isinstance(reply.body, dict) else []


# --- logging in ---------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    async with runtime(request).require_engine().connect() as conn:
        rows = (await conn.execute(select(accounts_table).order_by(accounts_table.c.id))).all()
        suspended = set((await conn.execute(select(suspensions_table.c.account_id))).scalars())
    personas = [
        {**accounts.card(r), "role": r.role, "bio": r.bio, "suspended": r.id in suspended}
        for r in rows
    ]
    return render(request, "login.html", personas=personas)


async def login(request: Request) -> Response:
    data = await fields.form_fields(request)
    handle = fields.text(data, "handle", max_length=40)
    rt = runtime(request)
    token, _ = await rt.log_in(handle)
    response = moved(request, "/")
    # SameSite=Lax: another site cannot post the forms with this cookie.
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(rt.tokens.lifetime), httponly=True, samesite="lax"
    )
    return response


async def logout(request: Request) -> Response:
    response = moved(request, "/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- pages --------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    _me(request)
    me = await _api(request, "/api/me")
    incoming = await _api(request, "/api/friend-requests")
    suggested = await _api(request, "/api/suggestions")
    chats = await _api(request, "/api/conversations")
    problem = next((r.problem() for r in (me, incoming, suggested, chats) if not r.ok), None)
    return render(
        request,
        "home.html",
        profile=me.body if me.ok else None,
        requests=_results(incoming),
        suggestions=_results(suggested),
        conversations=_results(chats),
        problem=problem,
    )


async def search(request: Request) -> Response:
    _me(request)
    q = request.query_params.get("q", "").strip()
    reply = await _api(request, "/api/search", q=q) if q else None
    return render(
        request,
        "search.html",
        status=reply.status if reply is not None and not reply.ok else 200,
        q=q,
        results=_results(reply) if reply is not None else None,
        problem=reply.problem() if reply is not None and not reply.ok else None,
    )


async def profile(request: Request) -> Response:
    _me(request)
    account_id = request.path_params["account_id"]
    reply = await _api(request, f"/api/accounts/{account_id}")
    return render(
        request,
        "profile.html",
        status=reply.status,
        profile=reply.body if reply.ok else None,
        problem=None if reply.ok else reply.problem(),
    )


def _people_page(kind: str) -> Any:
    async def page(request: Request) -> Response:
        _me(request)
        account_id = request.path_params["account_id"]
        owner = await _api(request, f"/api/accounts/{account_id}")
        reply = await _api(request, f"/api/accounts/{account_id}/{kind}")
        failed = next((r for r in (owner, reply) if not r.ok), None)
        return render(
            request,
            "people.html",
            status=failed.status if failed else 200,
            kind=kind,
            owner=owner.body if owner.ok else {"id": account_id},
            people=_results(reply),
            problem=failed.problem() if failed else None,
        )

    return page


async def conversations(request: Request) -> Response:
    _me(request)
    chats = await _api(request, "/api/conversations")
    me = await _api(request, "/api/me")
    failed = next((r for r in (chats, me) if not r.ok), None)
    return render(
        request,
        "conversations.html",
        status=failed.status if failed else 200,
        conversations=_results(chats),
        friends=me.body.get("friends", []) if me.ok else [],
        problem=failed.problem() if failed else None,
    )


async def conversation(request: Request) -> Response:
    _me(request)
    conversation_id = request.path_params["conversation_id"]
    chat = await _api(request, f"/api/conversations/{conversation_id}")
    me = await _api(request, "/api/me")
    failed = next((r for r in (chat, me) if not r.ok), None)
    return render(
        request,
        "conversation.html",
        status=failed.status if failed else 200,
        chat=chat.body if chat.ok else None,
        friends=me.body.get("friends", []) if me.ok else [],
        problem=failed.problem() if failed else None,
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/search", search, methods=["GET"]),
        Route("/accounts/{account_id:int}", profile, methods=["GET"]),
        Route("/accounts/{account_id:int}/friends", _people_page("friends"), methods=["GET"]),
        Route("/accounts/{account_id:int}/followers", _people_page("followers"), methods=["GET"]),
        Route("/conversations", conversations, methods=["GET"]),
        Route("/conversations/{conversation_id:int}", conversation, methods=["GET"]),
    ]
