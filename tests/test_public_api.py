"""The public surface is what we mean it to be: small, and all of it importable from the top."""

import safe_accounts

EXPECTED = {
    "Action", "AgeBand", "Assurance", "ConfigurationError", "InvalidBand", "Mode", "Outcome",
    "PolicyError", "SafeAccountsError", "SafeAccountsMiddleware", "SchemaOutOfDate", "StorageError",
    "moderation_app", "restrictions_of", "upgrade_database",
}


def test_the_public_names_are_exactly_these() -> None:
    assert set(safe_accounts.__all__) == EXPECTED


def test_every_public_name_is_importable() -> None:
    for name in safe_accounts.__all__:
        assert getattr(safe_accounts, name) is not None


def test_every_error_we_raise_on_purpose_is_a_safe_accounts_error() -> None:
    for name in ("ConfigurationError", "InvalidBand", "PolicyError", "SchemaOutOfDate", "StorageError"):
        assert issubclass(getattr(safe_accounts, name), safe_accounts.SafeAccountsError)
