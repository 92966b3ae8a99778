"""`safe-accounts bands set | get | import`, run as a user runs them: exit codes and output."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Ran

Cli = Callable[..., Ran]


@pytest.fixture
def account() -> str:
    """An id of this test's own (the PostgreSQL database is shared by the run)."""
    return f"acct-{uuid.uuid4().hex[:8]}"


def test_set_a_birth_date_then_get_it(cli: Cli, database_url: str, account: str) -> None:
    ran = cli("bands", "set", account, "--birthdate", "2014-03-02", "--database-url", database_url)
    assert ran.code == 0, ran.err
    assert f"{account}: band " in ran.out and "source cli" in ran.out
    got = cli("bands", "get", account, "--database-url", database_url, "--json")
    assert got.code == 0
    shown = json.loads(got.out)
    assert shown["account_id"] == account
    assert shown["band"] in {"under_13", "13_15"}  # depends on today's date
    assert (shown["assurance"], shown["source"]) == ("self_declared", "cli")
    assert shown["changed_at"].endswith("+00:00")


def test_set_a_band_with_its_assurance(cli: Cli, database_url: str, account: str) -> None:
    ran = cli(
        "bands",
        "set",
        account,
        "--band",
        "16_17",
        "--assurance",
        "verified",
        "--database-url",
        database_url,
    )
    assert ran.code == 0, ran.err
    got = cli("bands", "get", account, "--database-url", database_url)
    assert got.out.startswith(f"{account}: band 16_17, assurance verified, source cli, changed 20")


def test_an_account_without_a_record_is_unknown(cli: Cli, database_url: str) -> None:
    got = cli("bands", "get", "never-seen", "--database-url", database_url, "--json")
    assert got.code == 0
    assert json.loads(got.out) == {
        "account_id": "never-seen",
        "band": "unknown",
        "assurance": "self_declared",
        "source": "none",
        "changed_at": None,
    }


def test_the_database_url_may_come_from_the_environment(
    cli: Cli,
    database_url: str,
    account: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAFE_ACCOUNTS_DATABASE_URL", database_url)
    assert cli("bands", "set", account, "--band", "adult").code == 0
    assert "band adult" in cli("bands", "get", account).out


def test_an_unmigrated_database_names_the_upgrade_command(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    for args in (("get", "a"), ("set", "a", "--band", "adult")):
        ran = cli("bands", *args, "--database-url", url)
        assert ran.code == 1
        assert "run `safe-accounts db upgrade" in ran.err
        assert "Traceback" not in ran.err


def test_an_unreachable_database_is_a_message_not_a_traceback(cli: Cli, tmp_path: Path) -> None:
    ran = cli(
        "bands", "get", "a", "--database-url", f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/x.db"
    )
    assert ran.code == 1
    assert ran.err.startswith(f"error: there is no database at {tmp_path}/no/such/dir/x.db")
    assert "Traceback" not in ran.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--birthdate", "2031-01-01"], "in the future"),
        (["--birthdate", "01/02/2003"], "YYYY-MM-DD"),
        (["--birthdate", "1890-01-01"], "before 1900"),
        (["--band", "teen"], "'teen' is not one of"),
        (["--band", "unknown"], "'unknown' is not one of"),
        ([], "exactly one of --birthdate or --band"),
        (["--band", "adult", "--birthdate", "2000-01-01"], "exactly one of --birthdate or --band"),
        (["--band", "adult", "--assurance", "sure"], "'sure' is not one of"),
    ],
)
def test_bad_input_is_refused_with_a_message(
    cli: Cli, tmp_path: Path, args: list[str], message: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    assert cli("db", "upgrade", "--database-url", url).code == 0
    ran = cli("bands", "set", "acct", *args, "--database-url", url)
    assert ran.code != 0
    assert message in ran.err
    assert "Traceback" not in ran.err
    assert "band unknown" in cli("bands", "get", "acct", "--database-url", url).out


def test_import_writes_good_batches_refuses_bad_ones_and_exits_1(
    cli: Cli, database_url: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    csv = tmp_path / "bands.csv"
    csv.write_text(
        "account_id,birth_date,band,assurance\n"
        f"{run}-a,2012-01-01,,verified\n{run}-b,,adult,\n"
        f"{run}-c,2099-01-01,,\n{run}-d,,kid,\n"
        f"{run}-e,,13_15,estimated\n"
    )
    ran = cli("bands", "import", str(csv), "--batch-size", "2", "--database-url", database_url)
    assert ran.code == 1
    assert "batch 1 (lines 2-3): written, 2 rows" in ran.out
    assert "batch 2 (lines 4-5): NOT written, 2 bad of 2 rows" in ran.err
    assert "line 4: birth date 2099-01-01 is in the future" in ran.err
    assert "line 5: unknown age band 'kid'" in ran.err
    assert "batch 3 (lines 6-6): written, 1 rows" in ran.out
    assert "3 rows written in 2 batches; 1 batches not written (2 bad rows)" in ran.out
    bands = {
        name: json.loads(
            cli("bands", "get", f"{run}-{name}", "--json", "--database-url", database_url).out
        )["band"]
        for name in "abcde"
    }
    assert bands["b"] == "adult" and bands["e"] == "13_15"
    assert bands["c"] == bands["d"] == "unknown"


def test_a_clean_import_exits_0(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    cli("db", "upgrade", "--database-url", url)
    csv = tmp_path / "bands.csv"
    csv.write_text("account_id,band\n" + "".join(f"a{i},adult\n" for i in range(12)))
    ran = cli("bands", "import", str(csv), "--batch-size", "5", "--database-url", url)
    assert ran.code == 0, ran.err
    assert (
        ran.out.splitlines()[-1]
        == "12 rows written in 3 batches; 0 batches not written (0 bad rows)"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id,band\n", "header 'id,band'"),
        (b"", "the file is empty"),
        (b"account_id,band\n\xff\xfe,adult\n", "line 2 is not UTF-8 text"),
    ],
)
def test_an_unusable_file_is_a_message(
    cli: Cli, tmp_path: Path, content: bytes, message: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    cli("db", "upgrade", "--database-url", url)
    csv = tmp_path / "bands.csv"
    csv.write_bytes(content)
    ran = cli("bands", "import", str(csv), "--database-url", url)
    assert ran.code == 1
    assert message in ran.err and "Traceback" not in ran.err


def test_a_missing_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    ran = cli("bands", "import", str(tmp_path / "nope.csv"))
    assert ran.code == 2
    assert "does not exist" in ran.err


@pytest.mark.redis
async def test_a_change_from_the_cli_reaches_a_running_process(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """The CLI is another process: with --redis-url (and the app's --redis-prefix) its
    change drops our cached band."""
    import redis.asyncio as aioredis

    from safe_accounts.bands import BandDirectory, OwnBandStore
    from safe_accounts.config import channel_prefix
    from safe_accounts.db import migrate
    from safe_accounts.db.engine import make_engine
    from safe_accounts.policy.model import BandCacheSettings

    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    engine = make_engine(url)
    client = aioredis.Redis.from_url(redis_url)
    account = f"cli-{uuid.uuid4().hex[:8]}"
    directory = BandDirectory(
        OwnBandStore(engine), cache=BandCacheSettings(), redis=client,
        channel_prefix=channel_prefix(redis_prefix, redis_url),
    )
    try:
        await migrate.upgrade(engine)
        await directory.start()
        assert (await directory.get(account)).band.value == "unknown"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "safe_accounts.cli",
            "bands",
            "set",
            account,
            "--band",
            "13_15",
            "--database-url",
            url,
            "--redis-url",
            redis_url,
            "--redis-prefix",
            redis_prefix,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate()
        assert process.returncode == 0, err
        for _ in range(1500):
            if directory.cached(account) is None:
                break
            await asyncio.sleep(0.01)
        assert (await directory.get(account)).band.value == "13_15"
    finally:
        await directory.close()
        await client.aclose()
        await engine.dispose()
