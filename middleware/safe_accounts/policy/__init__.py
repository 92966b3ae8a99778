"""Policy files: loading with file:line errors, route templates and path normalisation.

The model (`model.py`) is the file's shape; `load_policy` turns files into it.
"""

from .loader import LoadedPolicy, load_policy, policy_version
from .paths import RouteMatch, RouteTable, candidate_paths, compile_template, normalise
from .schema import policy_json_schema

__all__ = [
    "LoadedPolicy",
    "RouteMatch",
    "RouteTable",
    "candidate_paths",
    "compile_template",
    "load_policy",
    "normalise",
    "policy_json_schema",
    "policy_version",
]
