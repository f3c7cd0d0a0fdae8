# Every target creates .venv and installs on first use; nothing else is needed but python3 and pip.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test bench lint sql clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m demo.demo

test: $(STAMP)
	$(PY) -m pytest -q -rs tests

bench: $(STAMP)
	$(PY) -m bench.bench

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Regenerate sql/ from homepower/schema.py (a test fails when they drift).
sql: $(STAMP)
	$(PY) -m homepower.schema mysql > sql/mysql.sql
	$(PY) -m homepower.schema sqlite > sql/sqlite.sql

clean:
	rm -rf $(VENV) var/demo .pytest_cache
