"""The integrator's tools over a loaded policy: its own test cases (`testing.py`), one
request explained (`explain.py`), and the app's routes a groomer could use instead
(`coverage.py`). Used by `safe-accounts policy ...`; never on the request path."""
