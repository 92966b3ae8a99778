"""Is the middleware where the app's authentication can be seen? Counted per worker.

Wrapped outside the app's authentication middleware (with `scope_user`), or reading a
token the app does not send, the middleware sees every actor as anonymous: a teacher's
message to her pupil is then refused as a stranger's, and nothing else says why. A worker
whose first `SAMPLE` protected requests all had anonymous actors says so, once in the log
and for as long as it lasts in health.

The request path pays one integer increment: `identified += 1`, or `saw_anonymous()`.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("safe_accounts.identity")

SAMPLE = 20
ONLY_ANONYMOUS = (
    "safe accounts: the first %d protected requests of this worker all had an anonymous "
    "actor: is the middleware outside the app's authentication (scope_user), or does the "
    "policy's `identity:` read something the app never sends? See docs/middleware.md, "
    "'Identity: who is acting'"
)


class ActorTally:
    """How many protected requests named their actor, and how many were anonymous."""

    __slots__ = ("anonymous", "identified")

    def __init__(self) -> None:
        self.identified = 0
        self.anonymous = 0

    def saw_anonymous(self) -> None:
        self.anonymous += 1
        if self.anonymous == SAMPLE and not self.identified:
            logger.warning(ONLY_ANONYMOUS, SAMPLE)

    @property
    def only_anonymous(self) -> bool:
        return self.anonymous >= SAMPLE and not self.identified

    def health(self) -> dict[str, object]:
        return {
            "identified": self.identified,
            "anonymous": self.anonymous,
            "warning": ONLY_ANONYMOUS % SAMPLE if self.only_anonymous else None,
        }
