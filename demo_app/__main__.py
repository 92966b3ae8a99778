"""`python -m demo_app` (`make demo`): migrate and seed `demo.db` here, then serve the demo
app behind Safe Accounts on http://127.0.0.1:8000. `--bare` serves the app alone."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from pathlib import Path

from .database import DEFAULT_DATABASE_URL, async_url
from .personas import PERSONAS
from .problems import ConfigurationProblem
from .seed import DATABASE_URL_ENV, seed_url

SECRET_ENV = "DEMO_APP_SECRET"
# Read by `demo_app.wrapped` when it is imported: which policy file the wrapped app runs.
POLICY_ENV = "DEMO_APP_POLICY"
# Read by every `safe-accounts` command run in this folder (and by the middleware's
# constructor from the environment): the demo's database, not an empty safe_accounts.db.
DOTENV_NAMES = ("SAFE_ACCOUNTS_DATABASE_URL", "SAFE_ACCOUNTS_REDIS_URL")


def write_dotenv(url: str, folder: Path) -> Path:
    """Set our names in `folder/.env` (other lines are kept): a relative SQLite path becomes
    absolute, so the file means the same from anywhere."""
    from dotenv import set_key
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).is_absolute():
        url = parsed.set(database=str(Path(parsed.database).resolve())).render_as_string(hide_password=False)
    path = folder / ".env"
    path.touch(mode=0o600, exist_ok=True)
    set_key(path, DOTENV_NAMES[0], url, quote_mode="never")
    redis = os.environ.get(DOTENV_NAMES[1])
    if redis:
        set_key(path, DOTENV_NAMES[1], redis, quote_mode="never")
    return path


# The moderation pages' form tokens and the evidence bundles' signatures: kept in `.env`
# too, so that they survive a restart and `safe-accounts moderate verify` run in this folder
# checks a bundle the pages exported.
MODERATION_SECRETS = ("SAFE_ACCOUNTS_CSRF_SECRET", "SAFE_ACCOUNTS_EXPORT_KEY")


def moderation_secrets(folder: Path) -> None:
    """Put each of `MODERATION_SECRETS` in the environment: as set there, else as `.env`
    holds it, else a new random one written to `.env`."""
    from dotenv import dotenv_values, set_key

    path = folder / ".env"
    path.touch(mode=0o600, exist_ok=True)
    kept = dotenv_values(path)
    for name in MODERATION_SECRETS:
        if os.environ.get(name):
            continue
        value = kept.get(name) or secrets.token_urlsafe(32)
        if not kept.get(name):
            set_key(path, name, value, quote_mode="never")
        os.environ[name] = value


def _band(age: int) -> str:
    if age < 13:
        return "under_13"
    if age < 16:
        return "13_15"
    return "16_17" if age < 18 else "adult"


def _banner(base: str, bare: bool, policy: str) -> str:
    front = "the app alone (--bare)" if bare else f"the app behind Safe Accounts ({policy})"
    lines = [
        f"Demo social app: {front}",
        f"  pages     {base}/login   (log in as a persona, one button each)",
        f'  JSON API  {base}/api/... (POST {base}/api/login {{"handle": "stranger"}} -> bearer token)',
        *([] if bare else [f"  moderation {base}/moderation/ (log in as Jo Fletcher, the moderator)"]),
        "",
        "Personas:",
    ]
    for p in PERSONAS:
        lines.append(
            f"  {p.handle:<9} {p.display_name:<12} {p.age:>2} {_band(p.age):<9} {p.role:<8} {p.bio}"
        )
    lines += [
        "",
        "Try the story in docs/demo.md: log in as `stranger`, search for `patel`, message Leo,",
        "send Leo, Ava and Zoe friend requests; as Zoe accept, as Leo and Ava reject; then",
        "log in as Jo and open the moderation queue.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo_app", description=__doc__.split("\n")[0])
    parser.add_argument("--bare", action="store_true", help="serve the app without Safe Accounts")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_URL_ENV, DEFAULT_DATABASE_URL),
        help=f"where both the app and Safe Accounts keep their tables (default {DEFAULT_DATABASE_URL})",
    )
    parser.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="the policy file Safe Accounts runs (default policies/demo.yaml): try your own on the demo",
    )
    args = parser.parse_args(argv)
    try:
        url = async_url(args.database_url)
    except ConfigurationProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.policy is not None:
        if not args.policy.is_file():
            print(f"error: --policy {args.policy}: no such file", file=sys.stderr)
            return 2
        os.environ[POLICY_ENV] = str(args.policy.resolve())
    # The app (and the middleware in front of it) read these when they are imported below.
    os.environ[DATABASE_URL_ENV] = url
    os.environ.setdefault(SECRET_ENV, secrets.token_urlsafe(32))

    try:
        if not args.bare:
            from safe_accounts.db.migrate import upgrade_url

            asyncio.run(upgrade_url(url))
            written = write_dotenv(url, Path.cwd())
            moderation_secrets(Path.cwd())
            print(f"{written}: the demo's database for `safe-accounts` commands run here", flush=True)
        asyncio.run(seed_url(url))
        if args.bare:
            from .app import app as served
        else:
            from .wrapped import app as served
    except ImportError as exc:
        print(
            f"error: Safe Accounts could not be loaded ({exc}); "
            "`python -m demo_app --bare` serves the app alone",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:  # noqa: BLE001 - a launcher: say what failed, no traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1

    import uvicorn

    policy = os.environ.get(POLICY_ENV, "policies/demo.yaml")
    print(_banner(f"http://{args.host}:{args.port}", args.bare, policy), flush=True)
    uvicorn.run(served, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
