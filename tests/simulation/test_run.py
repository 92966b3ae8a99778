"""A small population driven through the demo app behind the middleware: it runs, a seed
gives one result, and the figures make sense against the ground truth."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from demo_app.simulation import Parameters, Role, parse_mix, run_simulation
from demo_app.simulation.driver import Run, drive, scratch
from demo_app.simulation.outcome import Outcome, measure, percentile

pytestmark = pytest.mark.slow

SMALL = Parameters(
    accounts=200, days=7, seed=3, groomers=6, mix=parse_mix("aggressive=1,slow=1,spread=1")
)


def _run(params: Parameters) -> tuple[Run, Outcome]:
    async def go() -> tuple[Run, Outcome]:
        with scratch() as workdir:
            run = await drive(params, workdir)
            return run, await measure(run, params)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def small() -> tuple[Run, Outcome]:
    return _run(SMALL)


def _json(outcome: Outcome) -> str:
    return json.dumps(outcome.to_json(), sort_keys=True)


def test_the_same_seed_gives_the_same_outcome_to_the_byte(small: tuple[Run, Outcome]) -> None:
    again = asyncio.run(run_simulation(SMALL))
    assert _json(again) == _json(small[1])


def test_every_action_went_through_the_middleware_and_the_app(small: tuple[Run, Outcome]) -> None:
    data = small[1].to_json()
    traffic = data["traffic"]
    assert traffic["requests"] > 100
    assert set(traffic["by_task"]) >= {"SendRequest", "Answer", "Message", "Search"}
    # Never a failed safety check or an error: 2xx, or a refusal by the policy or the app.
    assert set(traffic["by_status"]) <= {"200", "201", "403", "404", "409"}
    rules = {row["rule"] for row in data["protections"]}
    assert {
        "stranger-dm-to-minor",
        "stranger-request-to-minor",
        "minors-out-of-stranger-discovery",
    } <= rules


def test_aggressive_groomers_are_caught_and_the_alerts_are_mostly_right(
    small: tuple[Run, Outcome],
) -> None:
    detection = small[1].to_json()["detection"]
    assert detection["by_tactic"]["aggressive"]["recall"] > 0
    assert detection["recall"] > 0
    assert detection["precision"] is not None and detection["precision"] >= 0.5
    hours = detection["hours_from_first_contact_to_alert"]
    assert hours["n"] == detection["groomer_accounts_alerted"]
    assert 0 <= hours["median"] <= hours["p90"] <= SMALL.days * 24
    reached = detection["children_contacted_before_alert"]
    assert 1 <= reached["median"] <= reached["p90"]


def test_an_alert_is_raised_only_when_a_signal_crosses(small: tuple[Run, Outcome]) -> None:
    alerts: dict[str, Any] = small[1].to_json()["alerts"]
    assert alerts["total"] == sum(alerts["by_signal"].values())
    assert alerts["accounts_alerted"] == len(alerts["accounts"])
    for account in alerts["accounts"]:
        assert account["signals"] and 0 <= account["first_alert_hours"] <= SMALL.days * 24


def test_no_alert_against_a_parent_who_only_contacts_their_own_children(
    small: tuple[Run, Outcome],
) -> None:
    run, outcome = small
    people = run.population.by_id
    own_children = {
        parent.id: {
            c.id
            for c in run.population.people
            if c.role is Role.CHILD and c.family == parent.family
        }
        for parent in run.population.of_role(Role.PARENT)
    }
    reached_strangers = {c.actor for c in run.journal.contacts}
    # Parents whose only contact with children was their own: whether a given seed's story
    # has one of them message a child in a week is chance, so all such parents are judged.
    family_only = {
        parent for parent in own_children
        if people[parent].role is Role.PARENT and parent not in reached_strangers
    }
    assert family_only, "the run has parents who contacted no child but their own"
    alerted = {a["account"] for a in outcome.to_json()["alerts"]["accounts"]}
    assert not family_only & alerted


def test_teen_impostors_are_alerted_for_asking_children_outside_their_circle() -> None:
    # Accounts that say they are 14-16 asking children across schools: no classmate or
    # friend of those children is in their circle (the demo policy's community_ties).
    params = Parameters(accounts=300, days=5, seed=2, groomers=4, mix=parse_mix("impersonator=1"))
    _, outcome = _run(params)
    alerted = outcome.to_json()["alerts"]["accounts"]
    assert alerted and all(a["role"] == "groomer" for a in alerted)
    assert any("scattered-requests-from-minors" in a["signals"] for a in alerted)


def test_percentiles_are_values_that_occurred() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(x) for x in range(1, 11)], 0.9) == 9.0
    assert percentile([float(x) for x in range(1, 11)], 0.5) == 5.0


def test_each_signals_contribution_adds_up_to_the_alerts_raised(small: tuple[Run, Outcome]) -> None:
    alerts: dict[str, Any] = small[1].to_json()["alerts"]
    contribution = alerts["contribution"]
    assert contribution, "the small run raises alerts"
    for signal, n in alerts["by_signal"].items():
        # Every alert is raised by exactly one signal, the first to cross.
        assert contribution[signal]["groomer"] + contribution[signal]["benign"] == n
    accounts = alerts["accounts"]
    for signal, hits in contribution.items():
        holding = [a for a in accounts if signal in a["signals"]]
        assert hits["joined_groomer"] + hits["joined_benign"] <= len(holding)
    assert alerts["crossings_per_alerted_account"] >= alerts["per_alerted_account"] >= 1
