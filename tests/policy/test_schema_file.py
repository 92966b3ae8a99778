"""docs/policy.schema.json is the model's JSON Schema, committed for editors and CI."""

from __future__ import annotations

import json
from pathlib import Path

from safe_accounts.policy import policy_json_schema
from safe_accounts.policy.model import PolicyFile

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "policy.schema.json"
REGENERATE = "safe-accounts policy schema > docs/policy.schema.json"


def test_the_committed_schema_is_up_to_date() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))

    assert committed == policy_json_schema(), f"docs/policy.schema.json is stale: run `{REGENERATE}`"


def test_the_schema_names_itself_and_describes_the_file_as_written() -> None:
    schema = policy_json_schema()

    assert schema["$id"].startswith("https://")
    assert schema["title"] == "Safe Accounts policy file"
    assert set(schema["properties"]) == {info.alias or name for name, info in PolicyFile.model_fields.items()}
    # Keys appear as written in YAML (aliases), not as Python attribute names.
    assert "json" in schema["$defs"]["JsonTarget"]["properties"]
    assert "json_" not in schema["$defs"]["JsonTarget"]["properties"]
