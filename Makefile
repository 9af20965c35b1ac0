# Two commands matter: `make demo` and `make test`. Everything else is a step they call.
# Both start from a bare machine: they create the virtualenvs and install what they need.
PYTHON    ?= python3
VENV      ?= .venv
VENV2     ?= .venv-airflow2
AIRFLOW3  ?= 3.3.2
AIRFLOW2  ?= 2.11.2
EXTRAS    ?= dev,kodo,emulator,fast
PYTEST_ARGS ?=

BIN  := $(VENV)/bin
BIN2 := $(VENV2)/bin

.PHONY: help install install-airflow2 install-system lint types unit test test-airflow3 test-airflow2 system-test demo bench clean

help:
	@echo "make demo   - start the emulator and run the end-to-end example DAG"
	@echo "make test   - lint, types, the whole suite on Airflow $(AIRFLOW3) and $(AIRFLOW2), and the system test"
	@echo "make bench  - speed and memory figures (benchmarks/results.json)"

# uv resolves and installs an Airflow tree in seconds; it is bootstrapped from PyPI with pip.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/python -m uv pip install -q --python $(BIN)/python -e ".[$(EXTRAS)]" "apache-airflow==$(AIRFLOW3)"
	touch $@

$(BIN2)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV2)
	$(BIN2)/python -m pip install -q --disable-pip-version-check uv
	$(BIN2)/python -m uv pip install -q --python $(BIN2)/python -e ".[$(EXTRAS)]" "apache-airflow==$(AIRFLOW2)"
	touch $@

install: $(BIN)/.installed

# The system test's services: Debian's Postgres, Redis and chromium (apt-get update only when the install fails).
SYSTEM_DEBS := postgresql redis-server chromium
$(BIN)/.system-installed: $(BIN)/.installed pyproject.toml
	@command -v redis-server >/dev/null && command -v chromium >/dev/null && test -x /usr/lib/postgresql/15/bin/initdb \
		|| apt-get install -y $(SYSTEM_DEBS) || (apt-get update && apt-get install -y $(SYSTEM_DEBS))
	$(BIN)/python -m uv pip install -q --python $(BIN)/python -e ".[$(EXTRAS),system]" "apache-airflow==$(AIRFLOW3)"
	touch $@

# The Airflow 2.11 system run (LocalExecutor) needs only the Postgres driver on top of the 2.x tree.
$(BIN2)/.system-installed: $(BIN2)/.installed $(BIN)/.system-installed pyproject.toml
	$(BIN2)/python -m uv pip install -q --python $(BIN2)/python -e ".[$(EXTRAS)]" "apache-airflow==$(AIRFLOW2)" "psycopg2-binary>=2.9"
	touch $@

install-system: $(BIN)/.system-installed $(BIN2)/.system-installed
install-airflow2: $(BIN2)/.installed

lint: install
	$(BIN)/ruff check airflow_provider_pandora tests example_dags benchmarks
	$(BIN)/ruff format --check airflow_provider_pandora tests example_dags benchmarks

types: install
	$(BIN)/mypy

test-airflow3: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-airflow2: install-airflow2
	$(BIN2)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# A whole Airflow 3 deployment (Postgres, Redis, scheduler, DAG processor, triggerer, API server, two Celery
# workers) on loopback, driven through the REST API and checked in chromium; then the Airflow 2.11 one
# (LocalExecutor: scheduler, triggerer, webserver) from its own venv. Each line has a hard budget: SIGINT at its
# budget in seconds (pytest then stops the deployment), SIGKILL a minute later; each test has its own timeout too.
# Both lines run even when the first fails; the target fails if either did.
SYSTEM_BUDGET ?= 900
SYSTEM_BUDGET2 ?= 480
SYSTEM_PYTEST := -m pytest -p no:cacheprovider -s --timeout 600 --durations=0 $(PYTEST_ARGS)
system-test: install-system
	@rc=0; \
	PANDORA_SYSTEM_TESTS=1 timeout -s INT -k 60 $(SYSTEM_BUDGET) $(BIN)/python $(SYSTEM_PYTEST) tests/system \
		--ignore=tests/system/test_airflow2.py || rc=1; \
	PANDORA_SYSTEM_TESTS=1 timeout -s INT -k 60 $(SYSTEM_BUDGET2) $(BIN2)/python $(SYSTEM_PYTEST) \
		tests/system/test_airflow2.py || rc=1; \
	exit $$rc

test: lint types test-airflow3 test-airflow2 system-test
	@echo "make test: all checks passed on Airflow $(AIRFLOW3) and $(AIRFLOW2)"

demo: install
	$(BIN)/python -m tests.demo

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(VENV2) .pytest_cache .mypy_cache .ruff_cache .demo
