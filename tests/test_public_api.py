"""The public surface is what we mean it to be: small, and all of it importable from the top."""

import safe_accounts

EXPECTED = {
    "Action", "AgeBand", "Assurance", "Clock", "ConfigurationError", "FrozenClock", "InvalidBand",
    "Mode", "Outcome", "PolicyError", "SafeAccountsError", "SafeAccountsMiddleware", "SchemaOutOfDate",
    "StorageError", "moderation_app", "restrictions_of", "upgrade_database",
}


def test_the_public_names_are_exactly_these() -> None:
    assert set(safe_accounts.__all__) == EXPECTED


def test_every_public_name_is_importable() -> None:
    for name in safe_accounts.__all__:
        assert getattr(safe_accounts, name) is not None


def test_every_error_we_raise_on_purpose_is_a_safe_accounts_error() -> None:
    for name in ("ConfigurationError", "InvalidBand", "PolicyError", "SchemaOutOfDate", "StorageError"):
        assert issubclass(getattr(safe_accounts, name), safe_accounts.SafeAccountsError)


def test_the_test_clock_is_a_clock_that_moves_only_when_told() -> None:
    clock = safe_accounts.FrozenClock(1_800_000_000)
    told: safe_accounts.Clock = clock  # what `clock=` takes (checked by mypy)

    clock.advance(90)

    assert told.now() == 1_800_000_090
    assert told.today().isoformat() == "2027-01-15"
