"""The evidence bundle: one case as a signed JSON document, for a referral to the authorities.

It holds the case, the account (with the host's display name and handle), every alert with
its evidence (kinds, bands, mutual counts, times), every report (with the reporter's words
where the policy keeps them), the account's decision-log rows (kept past retention while
the case is under legal hold), the moderators' actions, the restrictions and the case's
events. Never message text: Safe Accounts stores none.

Integrity: each record carries `sha256`, the SHA-256 of its canonical JSON (keys sorted,
no spaces, UTF-8) without that field, so a single record can be cited and checked; the
bundle's `integrity.digest` is the SHA-256 of the canonical JSON of everything but
`integrity`, and `integrity.signature` is HMAC-SHA256 of those same bytes under the
platform's export key (`SAFE_ACCOUNTS_EXPORT_KEY`, 32 bytes or more), named by `key_id`
(the first 16 hex digits of the key's SHA-256). The platform - or anyone it gives the key -
proves a bundle unchanged with `safe-accounts moderate verify FILE`; every export is a
case event that keeps the digest, so the platform can also show which bundle it sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..alerts.tables import alerts
from ..alerts.tables import restrictions as restriction_rows
from ..clock import SYSTEM_CLOCK, Clock
from ..decisions.table import decision_log
from ..errors import ConfigurationError, SafeAccountsError, storage_errors
from .cases import UnknownCase
from .display import AccountNames
from .tables import case_events, case_items, cases, held_decisions, moderation_actions, reports

FORMAT = "safe-accounts-evidence/1"
KEY_ENV = "SAFE_ACCOUNTS_EXPORT_KEY"
MIN_KEY_BYTES = 32
ALGORITHM = "HMAC-SHA256"
MAX_DECISIONS = 10_000  # the newest; `counts.decisions_left_out` says how many more there were
NOTE = (
    "No message text: Safe Accounts never stores any. A report's `text` is what the reporter "
    "wrote in the report itself. Times are seconds since the epoch (UTC), with `*_utc` copies."
)
# Each kind of record: the field holding its time (for its `*_utc` copy).
_TIMES = {
    "alerts": "created_at",
    "reports": "at",
    "decisions": "at",
    "actions": "at",
    "restrictions": "created_at",
    "events": "at",
}


class InvalidBundle(SafeAccountsError, ValueError):
    """A file that is not an evidence bundle, or one whose digest or signature does not hold."""


class ExportKey:
    """The platform's key for signing evidence bundles."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ConfigurationError(f"the export key must be at least {MIN_KEY_BYTES} bytes long")
        self._secret = secret

    @classmethod
    def from_env(cls, name: str = KEY_ENV, environ: Mapping[str, str] | None = None) -> ExportKey:
        value = (os.environ if environ is None else environ).get(name)
        if not value:
            raise ConfigurationError(
                f"evidence bundles are signed with the key in {name}, which is not set "
                f"({MIN_KEY_BYTES} bytes or more; keep it where the platform keeps its secrets)"
            )
        return cls(value.encode())

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self._secret).hexdigest()[:16]

    def sign(self, content: bytes) -> str:
        return hmac.new(self._secret, content, hashlib.sha256).hexdigest()


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _utc(at: Any) -> str | None:
    if not isinstance(at, int | float):
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sealed(kind: str, row: Mapping[Any, Any]) -> dict[str, Any]:
    record = {str(k): v for k, v in row.items()}
    record[f"{_TIMES[kind]}_utc"] = _utc(record.get(_TIMES[kind]))
    record["sha256"] = hashlib.sha256(canonical(record)).hexdigest()
    return record


async def export_case(
    engine: AsyncEngine,
    case_id: str,
    *,
    key: ExportKey,
    by: str,
    names: AccountNames | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, Any]:
    """The case's signed bundle (the caller records the export: `Casework.exported`)."""
    now = clock.now()
    with storage_errors("reading the case's evidence"):
        async with engine.connect() as conn:
            case_row = (await conn.execute(select(cases).where(cases.c.id == case_id))).mappings().first()
            if case_row is None:
                raise UnknownCase(f"there is no case {case_id!r}")
            account = case_row["account_id"]
            items = (
                await conn.execute(select(case_items).where(case_items.c.case_id == case_id))
            ).mappings().all()
            ids = [i["item_id"] for i in items] or [""]
            due = {i["item_id"]: i["due_at"] for i in items}
            alert_rows = (
                await conn.execute(select(alerts).where(alerts.c.id.in_(ids)).order_by(alerts.c.created_at))
            ).mappings().all()
            report_rows = (
                await conn.execute(select(reports).where(reports.c.id.in_(ids)).order_by(reports.c.at))
            ).mappings().all()
            referenced = [r["decision_id"] for r in [*alert_rows, *report_rows] if r["decision_id"]]
            about = or_(decision_log.c.actor_id == account, decision_log.c.id.in_(referenced or [""]))
            decision_rows = (
                await conn.execute(
                    select(decision_log).where(about).order_by(decision_log.c.at.desc()).limit(MAX_DECISIONS + 1)
                )
            ).mappings().all()
            held_rows = (
                await conn.execute(
                    select(held_decisions).where(held_decisions.c.case_id == case_id).order_by(held_decisions.c.at)
                )
            ).mappings().all()
            action_rows = (
                await conn.execute(
                    select(moderation_actions)
                    .where(moderation_actions.c.item_id.in_(ids))
                    .order_by(moderation_actions.c.at, moderation_actions.c.id)
                )
            ).mappings().all()
            restriction_list = (
                await conn.execute(
                    select(restriction_rows)
                    .where(restriction_rows.c.account_id == account)
                    .order_by(restriction_rows.c.created_at)
                )
            ).mappings().all()
            event_rows = (
                await conn.execute(
                    select(case_events)
                    .where(case_events.c.case_id == case_id)
                    .order_by(case_events.c.at, case_events.c.id)
                )
            ).mappings().all()
    left_out = max(0, len(decision_rows) - MAX_DECISIONS)
    decisions: dict[str, Mapping[Any, Any]] = {r["id"]: r for r in held_rows}
    for r in decision_rows[:MAX_DECISIONS]:
        decisions.setdefault(r["id"], r)
    shown = await (names or AccountNames()).of([account])
    body: dict[str, Any] = {
        "format": FORMAT,
        "exported_at": now,
        "exported_at_utc": _utc(now),
        "exported_by": by,
        "case": {
            **{str(k): v for k, v in case_row.items() if k != "open_account"},
            "opened_at_utc": _utc(case_row["opened_at"]),
            "resolved_at_utc": _utc(case_row["resolved_at"]),
            "items": [
                {"kind": i["item_kind"], "id": i["item_id"], "due_at": i["due_at"], "due_at_utc": _utc(i["due_at"])}
                for i in items
            ],
        },
        "account": shown[account].to_json(),
        "alerts": [_sealed("alerts", {**r, "due_at": due.get(r["id"])}) for r in alert_rows],
        "reports": [_sealed("reports", {**r, "due_at": due.get(r["id"])}) for r in report_rows],
        "decisions": [
            _sealed("decisions", {k: v for k, v in r.items() if k != "case_id"})
            for r in sorted(decisions.values(), key=lambda r: (r["at"], r["id"]))
        ],
        "actions": [_sealed("actions", r) for r in action_rows],
        "restrictions": [_sealed("restrictions", r) for r in restriction_list],
        "events": [_sealed("events", r) for r in event_rows],
        "counts": {
            "alerts": len(alert_rows),
            "reports": len(report_rows),
            "decisions": len(decisions),
            "decisions_left_out": left_out,
            "actions": len(action_rows),
        },
        "note": NOTE,
    }
    content = canonical(body)
    body["integrity"] = {
        "canonical_json": "keys sorted, separators ',' and ':', UTF-8, without `integrity`",
        "digest": "sha256:" + hashlib.sha256(content).hexdigest(),
        "signature": {"algorithm": ALGORITHM, "key_id": key.key_id, "value": key.sign(content)},
    }
    return body


def digest_of(bundle: Mapping[str, Any]) -> str:
    return str(bundle["integrity"]["digest"])


def verify(bundle: Any, key: ExportKey | None) -> list[str]:
    """What does not hold in `bundle` (empty: every record's hash, the digest and, with the
    key, the signature hold). Without the key only the hashes and the digest are checked."""
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT or not isinstance(
        bundle.get("integrity"), dict
    ):
        raise InvalidBundle(f"this is not a Safe Accounts evidence bundle ({FORMAT})")
    problems: list[str] = []
    body = {k: v for k, v in bundle.items() if k != "integrity"}
    for kind in _TIMES:
        for index, record in enumerate(body.get(kind) or ()):
            if not isinstance(record, dict):
                problems.append(f"{kind}[{index}] is not a record")
                continue
            unsealed = {k: v for k, v in record.items() if k != "sha256"}
            if hashlib.sha256(canonical(unsealed)).hexdigest() != record.get("sha256"):
                problems.append(f"{kind}[{index}] ({record.get('id')}) does not match its sha256")
    content = canonical(body)
    integrity = bundle["integrity"]
    if "sha256:" + hashlib.sha256(content).hexdigest() != integrity.get("digest"):
        problems.append("the bundle does not match its digest: it was changed after the export")
    signature = integrity.get("signature") or {}
    if key is not None:
        if signature.get("key_id") != key.key_id:
            problems.append(
                f"signed with key {signature.get('key_id')}, not with the key given ({key.key_id})"
            )
        elif not hmac.compare_digest(key.sign(content), str(signature.get("value", ""))):
            problems.append("the signature does not hold")
    return problems
