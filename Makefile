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

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,demo,bench]'
	.ci/services
	$(PY) -m bench

clean:
	rm -rf $(VENV) dist build .pytest_cache .hypothesis
