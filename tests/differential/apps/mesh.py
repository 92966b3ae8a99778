"""Mesh: a FastAPI social network with typed `int` ids.

Its conventions: accounts are integers (`user_id: int` in paths, pydantic bodies with
`to: int` and `members: list[int]`), so every spelling pydantic reads as a number -
`07001`, `+7001`, `7001.0`, ` 7001`, `7_001`, a JSON `7001.0` - is that account; routes
live in `APIRouter`s added with `include_router` under `/api/v1`; the viewer is a bearer
JWT whose `uid` claim is the account; age comes from the app's own `users.birth_date`
column (the policy's `bands.store: {source: host}`); connections are its `friendships`
rows, read with SQL. An unknown user is FastAPI's `HTTPException(404, "User not found")`.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at run
# time, and `SignedIn` is local to `routes`.
import time
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel

from ..harness import Person, born, header
from .tables import Tables, Truth

KEY_ENV = "MESH_JWT_KEY"
KEY = "mesh-bearer-signing-key-for-tests-only-00001"

STRANGER, ADULT_FRIEND = "9", "10"
PARENT, CHILD = "11", "7001"
TEACHER, PUPIL = "12", "36"
TEEN, NO_AGE = "512", "77"
NOBODY = "99999"  # no such user

PEOPLE = {
    p.id: p
    for p in (
        Person("9", "Vic Stranger", "adult"),
        Person("10", "Una Adult", "adult"),
        Person("11", "Pam Parent", "adult"),
        Person("12", "Ted Teacher", "adult"),
        Person("7001", "Nia Minor", "13_15", ("Nia City", "Nia High")),
        Person("36", "Oli Little", "under_13", ("Oli Town", "Oli Infants")),
        Person("512", "Tia Teen", "16_17", ("Tia Burg", "Tia Sixth Form")),
        Person("77", "Ned Nodate", "unknown", ("Ned Vale", "Ned School")),
    )
}
AGES = {"9": 41, "10": 35, "11": 44, "12": 38, "7001": 14, "36": 9, "512": 16}
# Una (10) is Nia's aunt: the stranger's friend is connected with a child he is not.
FRIENDS = [(9, 10), (11, 7001), (12, 36), (11, 10), (10, 7001)]
CONNECTIONS = frozenset(frozenset((str(a), str(b))) for a, b in FRIENDS)

SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, city TEXT, school TEXT, birth_date TEXT);
CREATE TABLE friendships (user_id INTEGER, friend_id INTEGER);
CREATE TABLE messages (sender INTEGER, recipient INTEGER, text TEXT);
CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT, owner INTEGER);
CREATE TABLE group_members (group_id INTEGER, user_id INTEGER);
CREATE TABLE friend_requests (sender INTEGER, recipient INTEGER);
"""
MUTABLE = ("messages", "groups", "group_members", "friend_requests")
BOOK_CLUB, FAMILY = 1, 2  # the stranger's group (with an adult friend); the parent's (with the child)


def seed() -> dict[str, list[tuple[Any, ...]]]:
    users = []
    for p in PEOPLE.values():
        city, school = p.private or (f"{p.name} City", "-")
        age = AGES.get(p.id)
        users.append((int(p.id), p.name, city, school, born(age) if age is not None else None))
    return {
        "users": users,
        "friendships": [pair for a, b in FRIENDS for pair in ((a, b), (b, a))],
        "groups": [(BOOK_CLUB, "book club", 9), (FAMILY, "family", 11)],
        "group_members": [(BOOK_CLUB, 9), (BOOK_CLUB, 10), (FAMILY, 11), (FAMILY, 7001)],
    }


POLICY = f"""
version: 1
name: mesh
extends: baseline
# A production budget is 250 ms; a loaded test machine can take longer over a cold query.
defaults: {{time_budget_ms: 2000}}
identity:
  - {{source: jwt, header: authorization, key_env: {KEY_ENV}, claim: uid}}
bands:
  store: {{source: host, table: users, id_column: id, birth_date_column: birth_date}}
relationships:
  connected:
    sql: SELECT friend_id FROM friendships WHERE user_id = :actor AND friend_id IN :targets
  mutual_count:
    sql: >-
      SELECT COUNT(*) FROM friendships a JOIN friendships b ON a.friend_id = b.friend_id
      WHERE a.user_id = :actor AND b.user_id = :target
rules:
  # Contact requests to children from adults with no friends in common are refused outright.
  - {{id: stranger-request-to-minor, mode: enforce}}
routes:
  - name: friends
    method: GET
    path: /api/v1/users/{{user_id}}/friends
    action: discovery
    response: {{items: "items[*]", id: id}}
  - name: profile
    method: GET
    path: /api/v1/users/{{user_id}}
    action: profile_view
    targets: [{{path: user_id}}]
    response: {{id: id, redact: [city, school, friends], lists: ["friends[*]"]}}
  - name: search
    method: GET
    path: /api/v1/search
    action: discovery
    response: {{items: "items[*]", id: id}}
  - name: message
    method: POST
    path: /api/v1/messages
    action: direct_message
    targets: [{{json: to}}]
  - name: new-group
    method: POST
    path: /api/v1/groups
    action: direct_message
    targets: [{{json: "members[*]"}}]
  - name: add-members
    method: POST
    path: /api/v1/groups/{{group_id}}/members
    action: direct_message
    targets: [{{json: "members[*]"}}]
  - name: friend-request
    method: POST
    path: /api/v1/friend-requests
    action: contact_request
    targets: [{{json: to}}]
"""


def bearer(user: str) -> tuple[bytes, bytes]:
    token = jwt.encode({"uid": int(user), "exp": int(time.time()) + 3600}, KEY, algorithm="HS256")
    return header("authorization", f"Bearer {token}")


def contacts(truth: Truth) -> set[tuple[str, str]]:
    found = {(str(s), str(r)) for s, r, *_ in truth["messages"] + truth["friend_requests"]}
    members: dict[int, set[str]] = {}
    for group, user in truth["group_members"]:
        members.setdefault(group, set()).add(str(user))
    for group in members.values():
        found |= {(a, b) for a in group for b in group if a != b}
    return found


class MessageIn(BaseModel):
    to: int
    text: str = ""


class GroupIn(BaseModel):
    name: str
    members: list[int]


class MembersIn(BaseModel):
    members: list[int]


class RequestIn(BaseModel):
    to: int


class Mesh:
    def __init__(self, path: Path) -> None:
        self.tables = Tables(path, SCHEMA, seed(), MUTABLE)
        self.app = FastAPI()
        self.app.include_router(self.routes(), prefix="/api/v1")

    def viewer(self, authorization: Annotated[str | None, Header()] = None) -> int | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            return int(jwt.decode(token.strip(), KEY, algorithms=["HS256"])["uid"])
        except (jwt.PyJWTError, KeyError, ValueError):
            return None

    def signed_in(self, authorization: Annotated[str | None, Header()] = None) -> int:
        user = self.viewer(authorization)
        if user is None:
            raise HTTPException(401, "Not authenticated")
        return user

    async def user(self, user_id: int) -> tuple[Any, ...]:
        row = await self.tables.one("SELECT id, name, city, school FROM users WHERE id = ?", user_id)
        if row is None:
            raise HTTPException(404, "User not found")
        return row

    async def friends_of(self, user_id: int) -> list[dict[str, Any]]:
        rows = await self.tables.rows(
            "SELECT u.id, u.name FROM friendships f JOIN users u ON u.id = f.friend_id "
            "WHERE f.user_id = ? ORDER BY u.id",
            user_id,
        )
        return [{"id": i, "name": n} for i, n in rows]

    def routes(self) -> APIRouter:
        users = APIRouter(prefix="/users")
        messages = APIRouter(prefix="/messages")
        groups = APIRouter(prefix="/groups")
        requests = APIRouter(prefix="/friend-requests")
        search = APIRouter()
        SignedIn = Annotated[int, Depends(self.signed_in)]  # noqa: N806 - a type, named as types are

        @users.get("/{user_id}")
        async def profile(user_id: int) -> dict[str, Any]:
            row = await self.user(user_id)
            return {
                "id": row[0],
                "name": row[1],
                "city": row[2],
                "school": row[3],
                "friends": await self.friends_of(user_id),
            }

        @users.get("/{user_id}/friends")
        async def friends(user_id: int) -> dict[str, Any]:
            await self.user(user_id)
            return {"items": await self.friends_of(user_id)}

        @search.get("/search")
        async def find(q: str = "") -> dict[str, Any]:
            rows = await self.tables.rows("SELECT id, name FROM users ORDER BY id")
            return {"items": [{"id": i, "name": n} for i, n in rows if q.lower() in n.lower()]}

        @messages.post("", status_code=201)
        async def send(body: MessageIn, sender: SignedIn) -> dict[str, Any]:
            await self.user(body.to)
            await self.tables.write("INSERT INTO messages VALUES (?, ?, ?)", sender, body.to, body.text)
            return {"sent": True}

        @groups.post("", status_code=201)
        async def new_group(body: GroupIn, owner: SignedIn) -> dict[str, Any]:
            for member in body.members:
                await self.user(member)
            (top,) = await self.tables.one("SELECT COALESCE(MAX(id), 0) FROM groups") or (0,)
            group = top + 1
            await self.tables.write("INSERT INTO groups VALUES (?, ?, ?)", group, body.name, owner)
            for member in dict.fromkeys([owner, *body.members]):
                await self.tables.write("INSERT INTO group_members VALUES (?, ?)", group, member)
            return {"id": group}

        @groups.post("/{group_id}/members")
        async def add_members(group_id: int, body: MembersIn, adder: SignedIn) -> dict[str, Any]:
            present = {
                r[0] for r in await self.tables.rows("SELECT user_id FROM group_members WHERE group_id = ?", group_id)
            }
            if not present:
                raise HTTPException(404, "Group not found")
            if adder not in present:
                raise HTTPException(403, "Not a member")
            for member in body.members:
                await self.user(member)
            for member in dict.fromkeys(body.members):
                if member not in present:
                    await self.tables.write("INSERT INTO group_members VALUES (?, ?)", group_id, member)
            return {"members": sorted(present | set(body.members))}

        @requests.post("", status_code=201)
        async def befriend(body: RequestIn, sender: SignedIn) -> dict[str, Any]:
            await self.user(body.to)
            await self.tables.write("INSERT INTO friend_requests VALUES (?, ?)", sender, body.to)
            return {"requested": True}

        api = APIRouter()
        for router in (users, messages, groups, requests, search):
            api.include_router(router)
        return api
