"""The decision module: one place where Safe Accounts decides about the accounts of a request.

`decide` judges one request (the accounts it names), `decide_page` the accounts an answer
lists; both read facts through the narrow `Facts` interface, never the runtime. Everything a
decision is made of lives here:

- `rules.py`: the policy's rules compiled per action, and the two phases that apply them;
- `facts.py`: what a decision reads (`Facts`), and the one way a `Party` is built;
- `request.py`, `page.py`: the two entry points; `judge.py`: the plain way both take when a
  fact is not cached (each has a faster way from the caches, private, held equal to it);
- `failing.py`: whether a lookup that failed refuses the request; `budget.py`: the time budget;
- `refusal.py`: what the client is told, over any channel;
- `actions.py`: what each action refuses, records and counts;
- `ids.py`: which spellings of an id are one account;
- `stores.py`: a worker's stores as `Facts`; `given.py`: facts given in memory (`policy test`).
"""

from .actions import ACTIONS, ActionSpec
from .facts import Facts, party
from .page import Page, decide_page
from .refusal import Refusal, refusal_of
from .request import Decision, decide
from .rules import Lookups, PairVerdict, Party, RuleSet, Verdict

__all__ = [
    "ACTIONS",
    "ActionSpec",
    "Decision",
    "Facts",
    "Lookups",
    "Page",
    "PairVerdict",
    "Party",
    "Refusal",
    "RuleSet",
    "Verdict",
    "decide",
    "decide_page",
    "party",
    "refusal_of",
]
