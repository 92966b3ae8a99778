"""Safe Accounts: under-18 protections in front of any ASGI app.

The public API fits on one screen; everything else is private to the package.
"""

from .bands.age import AgeBand, Assurance
from .errors import (
    ConfigurationError,
    InvalidBand,
    PolicyError,
    SafeAccountsError,
    SchemaOutOfDate,
    StorageError,
)
from .middleware import SafeAccountsMiddleware
from .policy.model import Action, Mode, Outcome

__all__ = [
    "Action",
    "AgeBand",
    "Assurance",
    "ConfigurationError",
    "InvalidBand",
    "Mode",
    "Outcome",
    "PolicyError",
    "SafeAccountsError",
    "SafeAccountsMiddleware",
    "SchemaOutOfDate",
    "StorageError",
]
