# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: test demo bench simulate soak install lint clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,demo]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	.ci/services
	$(PY) -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) -m demo_app

simulate: $(STAMP)
	$(VENV)/bin/safe-accounts simulate

# `make bench` runs every benchmark; `make bench BENCH="peers startup"` only those named.
bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,demo,bench]'
	.ci/services
	@command -v wrk >/dev/null || echo "wrk is not installed: the HTTP rows will read 'not measured' (Debian/Ubuntu: sudo apt-get install wrk)"
	$(PY) -m bench $(BENCH)

# The load run: two uvicorn workers on PostgreSQL + Redis, a few hundred clients for a
# bounded time, then the checks; the figures go into docs/reliability.md. Not in `make test`.
SOAK_ARGS ?= --seconds 60 --clients 300 --think 0.3
soak: $(STAMP)
	.ci/services
	$(PY) -m tests.soak $(SOAK_ARGS) --write-doc docs/reliability.md

clean:
	rm -rf $(VENV) dist build .pytest_cache .hypothesis
