"""A small social app, the host that Safe Accounts is shown in front of.

It knows nothing about Safe Accounts: it imports nothing from `safe_accounts`, has its
own tables, its own log-in and its own JSON API. `demo_app.wrapped` puts the middleware
in front of it; `python -m demo_app` serves that (or, with `--bare`, the app alone).
"""
