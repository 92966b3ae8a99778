"""Every write the app offers, once: the JSON API (`/api/...`) and the HTML forms
(`/web/...`) are two doors to the same action, with the same field names.

An action reads its fields from a dict (a JSON object or form fields), runs in one
transaction, and says what happened: the status and body for the API, the notice and
next page for a person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from . import fields
from .service import contacts, messaging, reports


@dataclass(frozen=True, slots=True)
class Done:
    status: int  # 201: made now; 200: it already was so
    body: dict[str, Any]
    notice: str  # what a page tells the person
    location: str | None = None  # the page to show next, when not the form's own page


Fields = dict[str, Any]
Run = Callable[[AsyncConnection, int, Fields, Fields, float], Awaitable[Done]]


@dataclass(frozen=True, slots=True)
class Action:
    path: str  # under /api and under /web
    run: Run


def _created(created: bool) -> int:
    return 201 if created else 200


async def _send_friend_request(
    conn: AsyncConnection, actor: int, data: Fields, params: Fields, now: float
) -> Done:
    body = await contacts.send_friend_request(conn, actor, fields.account_id(data, "to"), now)
    return Done(201, body, f"Friend request sent to {body['to']['display_name']}.")


def _answer(accept: bool) -> Run:
    async def run(
        conn: AsyncConnection, actor: int, data: Fields, params: Fields, now: float
    ) -> Done:
        body = await contacts.answer_friend_request(
            conn, actor, params["request_id"], accept=accept, now=now
        )
        who = body["from"]["display_name"]
        notice = f"You and {who} are now friends." if accept else f"Request from {who} rejected."
        return Done(200, body, notice)

    return run


async def _follow(
    conn: AsyncConnection, actor: int, data: Fields, params: Fields, now: float
) -> Done:
    body, created = await contacts.follow(conn, actor, fields.account_id(data, "to"), now)
    return Done(_created(created), body, f"You follow {body['followed']['display_name']}.")


def _text(data: dict[str, Any]) -> str:
    return fields.text(data, "text", max_length=messaging.MAX_TEXT)


async def _send_message(
    conn: AsyncConnection, actor: int, data: Fields, params: Fields, now: float
) -> Done:
    to = fields.account_id(data, "to")
    body = await messaging.send_direct(conn, actor, to, _text(data), now)
    return Done(201, body, "Message sent.", f"/conversations/{body['conversation_id']}")


async def _create_group(
    conn: AsyncConnection, actor: int, data: Fields, params: Fields, now: float
) -> Done:
    participants = fields.id_list(data, "participants")
    title = fields.text(data, "title", max_length=messaging.MAX_TITLE, required=False)
    body = await messaging.create_group(conn, actor, participants, title, now)
    return Done(201, body, f"Group “{body['title']}” started.", f"/conversations/{body['id']}")


async def _add_participant(
    conn: AsyncConnection, actor: int, data: Fields, params: Fields, now: float
) -> Done:
    account = fields.account_id(data, "account")
    body, added = await messaging.add_participant(
        conn, actor, params["conversation_id"], account, now
    )
    return Done(_created(added), body, "Added to the conversation." if added else "Already in it.")


async def _post_message(
    conn: AsyncConnection, actor: int, data: Fields, params: Fields, now: float
) -> Done:
    body = await messaging.post_message(conn, actor, params["conversation_id"], _text(data), now)
    return Done(201, body, "Message sent.")


async def _block(
    conn: AsyncConnection, actor: int, data: Fields, params: Fields, now: float
) -> Done:
    body, created = await contacts.block(conn, actor, fields.account_id(data, "account"), now)
    return Done(_created(created), body, f"You blocked {body['blocked']['display_name']}.", "/")


async def _report(
    conn: AsyncConnection, actor: int, data: Fields, params: Fields, now: float
) -> Done:
    account = fields.account_id(data, "account")
    reason = fields.text(data, "reason", max_length=reports.MAX_REASON)
    body = await reports.report(conn, actor, account, reason, now)
    return Done(201, body, "Thank you: the report was sent to the moderators.")


ACTIONS = (
    Action("/friend-requests", _send_friend_request),
    Action("/friend-requests/{request_id:int}/accept", _answer(True)),
    Action("/friend-requests/{request_id:int}/reject", _answer(False)),
    Action("/follows", _follow),
    Action("/messages", _send_message),
    Action("/conversations", _create_group),
    Action("/conversations/{conversation_id:int}/participants", _add_participant),
    Action("/conversations/{conversation_id:int}/messages", _post_message),
    Action("/blocks", _block),
    Action("/reports", _report),
)
