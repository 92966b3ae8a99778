"""The policy file's JSON Schema, for editors and CI (`docs/policy.schema.json`).

Regenerate the committed copy with `safe-accounts policy schema > docs/policy.schema.json`.
"""

from __future__ import annotations

from typing import Any

from .model import PolicyFile

SCHEMA_ID = "https://safe-accounts.dev/schemas/policy-1.json"


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file as written (YAML keys, i.e. field aliases)."""
    schema = PolicyFile.model_json_schema(by_alias=True)
    schema.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Safe Accounts policy file",
        **schema,
    }
