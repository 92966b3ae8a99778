"""Does the signal Redis keep what it holds across a restart?

Signal windows and pending crossings live only in Redis. A server with neither an
append-only file (`appendonly yes`) nor RDB snapshots (`save "3600 1 ..."`) starts empty
after a restart: every count towards an alert is lost, and a groomer who had reached four
children starts again from none. Asked once, when the store connects (`CONFIG GET`); said
in the log and kept for health. Managed services often disable `CONFIG`: then `INFO
persistence` still says whether AOF is on, and without it the answer is "unknown" (said,
never treated as a failure). docs/signals.md, "Redis persistence", gives the setting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis import exceptions as redis_errors

logger = logging.getLogger("safe_accounts.signals")

NOT_KEPT = (
    "safe accounts: the signal Redis keeps neither an append-only file nor RDB snapshots "
    "(appendonly %s, save %r): every signal count and pending alert is lost when it restarts. "
    "Set `appendonly yes` (see docs/signals.md, 'Redis persistence')"
)
UNKNOWN = "safe accounts: could not tell whether the signal Redis persists its data (%s)"


@dataclass(frozen=True, slots=True)
class Persistence:
    """What the server said: `appendonly` (`yes`/`no`) and `save` (the snapshot schedule,
    empty for none); None where it would not say."""

    appendonly: str | None
    save: str | None
    why_unknown: str | None = None

    @property
    def kept(self) -> bool | None:
        """True: AOF or snapshots; False: neither; None: the server would not say."""
        if self.appendonly == "yes" or (self.save is not None and self.save.strip() != ""):
            return True
        if self.appendonly is None or self.save is None:
            return None
        return False

    @property
    def warning(self) -> str | None:
        if self.kept is False:
            return NOT_KEPT % (self.appendonly, self.save)
        return None

    def health(self) -> dict[str, Any]:
        return {
            "appendonly": self.appendonly,
            "save": self.save,
            "kept": self.kept,
            "warning": self.warning,
            "unknown_because": self.why_unknown,
        }


async def persistence_of(client: Any, *, every_primary: bool = False) -> Persistence:
    """Ask the server (a single Redis, or every primary of a Cluster: the weakest answer)."""
    nodes: dict[str, Any] = {"target_nodes": "primaries"} if every_primary else {}
    try:
        appendonly = _values(await client.config_get("appendonly", **nodes), "appendonly")
        save = _values(await client.config_get("save", **nodes), "save")
    except (redis_errors.ResponseError, redis_errors.NoPermissionError) as exc:
        return await _from_info(client, nodes, f"CONFIG GET refused: {exc}")
    if not appendonly or not save:
        return await _from_info(client, nodes, "CONFIG GET gave no answer")
    # Every node must keep its data: one that does not loses its share of the keys.
    weakest = min(zip(appendonly, save, strict=False), key=lambda pair: Persistence(*pair).kept is True)
    return Persistence(*weakest)


async def _from_info(client: Any, nodes: dict[str, Any], why: str) -> Persistence:
    try:
        info = await client.info("persistence", **nodes)
    except redis_errors.ResponseError:
        return Persistence(None, None, why)
    answers = [info] if "aof_enabled" in info else [v for v in info.values() if isinstance(v, dict)]
    if answers and all(int(answer.get("aof_enabled", 0)) == 1 for answer in answers):
        return Persistence("yes", None, why)
    return Persistence(None, None, why)


def _values(reply: Any, name: str) -> list[str]:
    """`name`'s value on each node: redis-py answers a dict for one server, a dict of dicts
    (one per node) for a Cluster asked on every primary."""
    if name in reply:
        return [_text(reply[name])]
    return [_text(node[name]) for node in reply.values() if isinstance(node, dict) and name in node]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def report(persistence: Persistence, where: str) -> None:
    """Say it once, at start-up."""
    if persistence.kept is False:
        logger.warning(NOT_KEPT + " [%s]", persistence.appendonly, persistence.save, where)
    elif persistence.kept is None:
        logger.info(UNKNOWN + " [%s]", persistence.why_unknown, where)
