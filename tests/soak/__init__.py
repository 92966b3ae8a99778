"""The load run (`make soak`): two uvicorn workers of the wrapped host app on PostgreSQL and
Redis, a few hundred concurrent clients for a bounded time, then the checks.

Not collected by pytest (no test files): it takes minutes and wants the machine to itself.
`python -m tests.soak --help` for the knobs; figures go into docs/reliability.md.
"""
