"""What each action means besides its rules: what it refuses, records and counts.

One row per action, read wherever an action's kind matters (the request path, the socket
guard, the records), instead of `if action is ...` chains in each of them.

| action | targets | a refusal counts as | a success counts as (about) | after a success |
| --- | --- | --- | --- | --- |
| direct_message | protected | `direct_message_denied` | `direct_message`, when a signal counts it (`spec_of`) | - |
| contact_request | protected | `contact_request` | `contact_request` (the actor) | - |
| contact_response | - | - | accepted / rejected (the requester) | the pair is forgotten everywhere |
| profile_view | protected | - | - | - |
| discovery | in the answer | - | - | - |
| report | - | - | `reported` (the target) | a child-endangerment report |
| block | - | - | `blocked` (the target) | the pair is forgotten everywhere, before the answer |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from ..policy.model import PROTECTS_TARGET, Action, EventKind


@dataclass(frozen=True, slots=True)
class ActionSpec:
    action: Action
    # The accounts are the ones listed in the app's answer (a search), not in the request.
    targets_in_answer: bool = False
    # The signal a refused attempt counts as, about the actor reaching the target.
    refused_counts_as: EventKind | None = None
    # The signal a successful request counts as: about the actor reaching the target, or,
    # `against_target`, about the target (blocked or reported, often by the child).
    succeeded_counts_as: EventKind | None = None
    against_target: bool = False
    # The event carries the pair's mutual connections when the target is a minor (any
    # event carries them when a signal counts it by them: `records.mutual_wanted`).
    with_mutual: bool = False
    # Each account reported becomes a child-endangerment report for the moderators.
    files_reports: bool = False
    # Every worker forgets the pair's relationship before the app's successful answer starts,
    # so no decision made after the answer uses what was cached before it (a block).
    forgets_pair_first: bool = False
    # The request answers a contact request (`response_from`: accepted or rejected); an
    # answer connects or separates the pair, which every worker forgets.
    answers_request: bool = False

    @property
    def protects_target(self) -> bool:
        """Whether a request in which no target can be read is refused (400), unless the route
        says `targets_required: false` (the policy model holds the list: it checks routes)."""
        return self.action in PROTECTS_TARGET

    @property
    def acts_on_success(self) -> bool:
        """Whether anything follows the app's successful answer, so its status is watched."""
        return bool(
            self.succeeded_counts_as or self.files_reports or self.forgets_pair_first or self.answers_request
        )


ACTIONS: Mapping[Action, ActionSpec] = MappingProxyType({
    spec.action: spec
    for spec in (
        ActionSpec(Action.DIRECT_MESSAGE, refused_counts_as=EventKind.DM_DENIED),
        ActionSpec(
            Action.CONTACT_REQUEST, refused_counts_as=EventKind.CONTACT_REQUEST,
            succeeded_counts_as=EventKind.CONTACT_REQUEST, with_mutual=True,
        ),
        ActionSpec(Action.CONTACT_RESPONSE, answers_request=True),
        ActionSpec(Action.PROFILE_VIEW),
        ActionSpec(Action.DISCOVERY, targets_in_answer=True),
        ActionSpec(Action.REPORT, succeeded_counts_as=EventKind.REPORTED, against_target=True, files_reports=True),
        ActionSpec(Action.BLOCK, succeeded_counts_as=EventKind.BLOCKED, against_target=True, forgets_pair_first=True),
    )
})


def spec_of(action: Action, counted: frozenset[EventKind]) -> ActionSpec:
    """`action`'s row for a policy whose enabled count signals count the events `counted`: a
    direct message that reached the other account is an event only when a signal counts
    it, so a policy without one neither watches the app's answer to a DM nor records it."""
    spec = ACTIONS[action]
    if action is Action.DIRECT_MESSAGE and EventKind.DIRECT_MESSAGE in counted:
        return replace(spec, succeeded_counts_as=EventKind.DIRECT_MESSAGE)
    return spec
