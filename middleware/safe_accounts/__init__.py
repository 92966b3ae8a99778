"""Safe Accounts: under-18 protections in front of any ASGI app.

The public API fits on one screen; everything else is private to the package.
"""

from .bands.age import AgeBand, Assurance
from .clock import Clock, FrozenClock
from .db.migrate import upgrade_url as upgrade_database
from .errors import (
    ConfigurationError,
    InvalidBand,
    PolicyError,
    SafeAccountsError,
    SchemaOutOfDate,
    StorageError,
)
from .middleware import SafeAccountsMiddleware
from .moderation.app import moderation_app, restrictions_of
from .policy.model import Action, Mode, Outcome

__all__ = [
    "Action",
    "AgeBand",
    "Assurance",
    "Clock",
    "ConfigurationError",
    "FrozenClock",
    "InvalidBand",
    "Mode",
    "Outcome",
    "PolicyError",
    "SafeAccountsError",
    "SafeAccountsMiddleware",
    "SchemaOutOfDate",
    "StorageError",
    "moderation_app",
    "restrictions_of",
    "upgrade_database",
]
