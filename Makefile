# Two commands matter: `make demo` and `make test`. Everything else is a step they call.
# Both start from a bare machine: they create the virtualenvs and install what they need.
PYTHON    ?= python3
VENV      ?= .venv
VENV2     ?= .venv-airflow2
AIRFLOW3  ?= 3.3.2
AIRFLOW2  ?= 2.11.2
# The other Airflow 3 lines the README claims. Each gets the Airflow-facing suites (integration, the example DAGs
# and the transfer DAGs through dag.test()) from its own lock and venv (.venv-airflow-<version>).
AIRFLOW_LINES ?= 3.0.6 3.1.8 3.2.2
LINE_SUITES   ?= tests/integration tests/transfers/test_transfer_dags.py
PYTEST_ARGS ?=

BIN  := $(VENV)/bin
BIN2 := $(VENV2)/bin

# Every environment installs exactly what its lock says (locks/<name>.txt, compiled from locks/<name>.in by
# `make lock`, the only way versions move). uv itself is pinned and lives in a venv of its own, so that
# `uv pip sync` never removes it; the project is the locks' `-e .`, built with the locked hatchling.
UV_VERSION := 0.13.9
TOOLS      := .venv-tools
UV         := $(TOOLS)/bin/uv
LOCK3      := locks/airflow-$(AIRFLOW3).txt
LOCK2      := locks/airflow-$(AIRFLOW2).txt
BUILD_LOCK := locks/build.txt

.PHONY: help install install-airflow2 install-lines install-system lint types unit test test-airflow3 test-airflow2 \
	test-lines system-test demo bench dist docs lock lock-upgrade test-latest clean

help:
	@echo "make demo         - start the emulator and run the end-to-end example DAG"
	@echo "make test         - lint, types, make dist, make docs, the whole suite on Airflow $(AIRFLOW3) and $(AIRFLOW2), the"
	@echo "                    Airflow-facing suites on $(AIRFLOW_LINES), and the system test; every venv from its lock"
	@echo "make bench        - speed and memory figures (benchmarks/results.json)"
	@echo "make dist         - build the wheel and sdist (dist/) and check them: twine, install beside Airflow, tests"
	@echo "make docs         - build the Sphinx docs (build/docs/html) with warnings as errors, check their links"
	@echo "make lock         - re-resolve locks/*.txt from locks/*.in and pyproject.toml, keeping versions that still fit"
	@echo "make lock-upgrade - the same, moving every package to its newest allowed version"
	@echo "make test-latest  - unit and integration suites on fresh unpinned venvs, then how they differ from the locks"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"

# $(call sync,VENV,LOCK): refuse a stale lock (offline), create the venv, make it exactly the lock, check it.
define sync
	$(PYTHON) tools/locks.py check $(2)
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(UV) pip sync -q --python $(1)/bin/python --build-constraints $(BUILD_LOCK) \
		--reinstall-package airflow-provider-pandora $(2)
	$(UV) pip check -q --python $(1)/bin/python
	touch $(1)/.installed
endef

$(VENV)/.installed: $(LOCK3) $(BUILD_LOCK) pyproject.toml | $(UV)
	$(call sync,$(VENV),$(LOCK3))

$(VENV2)/.installed: $(LOCK2) $(BUILD_LOCK) pyproject.toml | $(UV)
	$(call sync,$(VENV2),$(LOCK2))

.venv-airflow-%/.installed: locks/airflow-%.txt $(BUILD_LOCK) pyproject.toml | $(UV)
	$(call sync,.venv-airflow-$*,locks/airflow-$*.txt)

locks/%.txt:
	@echo "$@: no lock for this environment. Add locks/$*.in (copy a neighbour) and run make lock." >&2; exit 1

install: $(VENV)/.installed
install-airflow2: $(VENV2)/.installed
install-lines: $(foreach v,$(AIRFLOW_LINES),.venv-airflow-$(v)/.installed)

# The system test's services: Debian's Postgres, Redis and chromium (apt-get update only when the install fails).
# Its Python packages (celery, psycopg2, playwright) are in the locks already.
SYSTEM_DEBS := postgresql redis-server chromium
install-system: install install-airflow2
	@command -v redis-server >/dev/null && command -v chromium >/dev/null && test -x /usr/lib/postgresql/15/bin/initdb \
		|| apt-get install -y $(SYSTEM_DEBS) || (apt-get update && apt-get install -y $(SYSTEM_DEBS))

# `make lock PACKAGE=name` moves that one package to its newest allowed version.
lock: | $(UV)
	UV=$(UV) $(PYTHON) tools/locks.py compile $(if $(PACKAGE),--upgrade-package $(PACKAGE))

lock-upgrade: | $(UV)
	UV=$(UV) $(PYTHON) tools/locks.py compile --upgrade

lint: install
	$(BIN)/ruff check airflow_provider_pandora tests example_dags benchmarks tools docs
	$(BIN)/ruff format --check airflow_provider_pandora tests example_dags benchmarks tools docs

types: install
	$(BIN)/mypy

test-airflow3: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-airflow2: install-airflow2
	$(BIN2)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# The unit suites do not touch Airflow's moving parts, so the extra lines run only what does. Each line's suite is
# mostly one busy core, so all of them run at once (LINES_JOBS; output kept per line).
LINES_JOBS ?= 3
test-lines:
	@$(MAKE) --no-print-directory -j$(LINES_JOBS) -Otarget $(foreach v,$(AIRFLOW_LINES),test-line-$(v))
test-line-%: .venv-airflow-%/.installed
	@echo "== the Airflow-facing suites on Airflow $*"
	.venv-airflow-$*/bin/python -m pytest -p no:cacheprovider -q $(LINE_SUITES) $(PYTEST_ARGS)

# A whole Airflow 3 deployment (Postgres, Redis, scheduler, DAG processor, triggerer, API server, two Celery
# workers) on loopback, driven through the REST API and checked in chromium; then the Airflow 2.11 one
# (LocalExecutor: scheduler, triggerer, webserver) from its own venv. Each line has a hard budget: SIGINT at its
# budget in seconds (pytest then stops the deployment), SIGKILL a minute later; each test has its own timeout too.
# Both lines run even when the first fails; the target fails if either did.
SYSTEM_BUDGET ?= 1200  # 693 s measured under a load above 10 with the lineage and event-scheduling tests
SYSTEM_BUDGET2 ?= 480
SYSTEM_PYTEST := -m pytest -p no:cacheprovider -s --timeout 600 --durations=0 $(PYTEST_ARGS)
system-test: install-system
	@rc=0; \
	PANDORA_SYSTEM_TESTS=1 timeout -s INT -k 60 $(SYSTEM_BUDGET) $(BIN)/python $(SYSTEM_PYTEST) tests/system \
		--ignore=tests/system/test_airflow2.py || rc=1; \
	PANDORA_SYSTEM_TESTS=1 timeout -s INT -k 60 $(SYSTEM_BUDGET2) $(BIN2)/python $(SYSTEM_PYTEST) \
		tests/system/test_airflow2.py || rc=1; \
	exit $$rc

test: lint types dist docs test-airflow3 test-airflow2 test-lines system-test
	@echo "make test: all checks passed on Airflow $(AIRFLOW3) and $(AIRFLOW2), and the Airflow-facing suites on $(AIRFLOW_LINES)"

# Drift, seen on purpose: fresh venvs from locks/*.in alone (ranges, plus the pins for known upstream breaks that
# the .in files name), newest metadata, the unit and integration suites, then every package that differs from the
# lock. Not part of `make test`; fails only when a suite fails.
LATEST_LINES ?= $(AIRFLOW3) $(AIRFLOW2)
test-latest: | $(UV)
	@rc=0; for v in $(LATEST_LINES); do \
		venv=.venv-latest-$$v; echo "== Airflow $$v, unpinned ($$venv)"; \
		rm -rf $$venv && $(PYTHON) -m venv $$venv && \
		$(UV) pip install -q --refresh --python $$venv/bin/python -r locks/airflow-$$v.in || { rc=1; continue; }; \
		$$venv/bin/python -m pytest -p no:cacheprovider -q tests/unit tests/integration $(PYTEST_ARGS) \
			&& echo "== Airflow $$v, unpinned: suites passed" || { rc=1; echo "== Airflow $$v, unpinned: suites FAILED"; }; \
		UV=$(UV) $(PYTHON) tools/locks.py drift locks/airflow-$$v.txt $$venv/bin/python; \
	done; exit $$rc

# The wheel and sdist as they would be published (dist/), built by the pinned uv with the locked hatchling, then
# checked: `twine check --strict` (twine from locks/dist.txt, in .venv-dist); the wheel installed into a fresh venv
# beside Airflow $(AIRFLOW3) at the lock's versions registers as a provider; and with the extras .venv has, the
# unpacked sdist's own tests collect without errors (docs/, locks/, tools/... are in it). Scratch: build/dist-check.
DIST_VENV  := .venv-dist
DIST_LOCK  := locks/dist.txt
DIST_CHECK := build/dist-check
DIST_EXTRAS = $(shell sed -n 's/^-e \.\[\(.*\)\]$$/\1/p' locks/airflow-$(AIRFLOW3).in)

$(DIST_VENV)/.installed: $(DIST_LOCK) | $(UV)
	$(call sync,$(DIST_VENV),$(DIST_LOCK))

dist: $(DIST_VENV)/.installed
	rm -rf dist $(DIST_CHECK) && mkdir -p $(DIST_CHECK)/sdist
	$(UV) build -q --build-constraints $(BUILD_LOCK) --out-dir dist
	$(DIST_VENV)/bin/twine check --strict dist/*
	grep -v '^-e ' $(LOCK3) > $(DIST_CHECK)/constraints.txt
	$(UV) venv -q --python $(PYTHON) $(DIST_CHECK)/venv
	$(UV) pip install -q --python $(DIST_CHECK)/venv/bin/python --constraints $(DIST_CHECK)/constraints.txt dist/*.whl
	$(UV) pip check -q --python $(DIST_CHECK)/venv/bin/python
	cd $(DIST_CHECK) && AIRFLOW_HOME=$(CURDIR)/$(DIST_CHECK)/airflow venv/bin/python -c "from airflow.providers_manager \
		import ProvidersManager; info = ProvidersManager().providers['airflow-provider-pandora']; \
		print('make dist: the wheel registers', info.data['package-name'], info.version, 'beside Airflow $(AIRFLOW3)')"
	$(UV) pip install -q --python $(DIST_CHECK)/venv/bin/python --constraints $(DIST_CHECK)/constraints.txt \
		"airflow-provider-pandora[$(DIST_EXTRAS)] @ file://$(CURDIR)/$$(ls dist/*.whl)"
	tar -xzf dist/*.tar.gz -C $(DIST_CHECK)/sdist --strip-components=1
	cd $(DIST_CHECK)/sdist && ../venv/bin/python -m pytest -q -p no:cacheprovider --collect-only >../collect.log 2>&1 \
		|| { tail -40 ../collect.log; exit 1; }
	@tail -1 $(DIST_CHECK)/collect.log | sed 's/^/make dist: the unpacked sdist: /'
	@ls dist

# The documentation (docs/, Sphinx with the Furo theme) as Read the Docs builds it (.readthedocs.yaml), from its own
# lock (locks/docs.txt: Sphinx, Furo, MyST, and the provider beside Airflow $(AIRFLOW3) for autodoc) in .venv-docs.
# Warnings are errors (-W --keep-going) and every reference of our own must resolve (-n; the objects of other
# projects are ignored in docs/conf.py). Then every relative link and #anchor in the built HTML must point at a
# file and an id that exist, and so must the README's absolute links into $(DOCS_URL) (tools/docs_links.py:
# offline, no linkcheck), and chromium, when installed, takes a
# screenshot of the front page (test-output/docs/index.png, a test artefact, not committed).
DOCS_VENV := .venv-docs
DOCS_LOCK := locks/docs.txt
DOCS_OUT  := build/docs
DOCS_SHOT := test-output/docs/index.png
DOCS_URL  := https://airflow-provider-pandora.readthedocs.io/en/latest/

$(DOCS_VENV)/.installed: $(DOCS_LOCK) $(BUILD_LOCK) pyproject.toml | $(UV)
	$(call sync,$(DOCS_VENV),$(DOCS_LOCK))

docs: $(DOCS_VENV)/.installed
	rm -rf $(DOCS_OUT)
	$(DOCS_VENV)/bin/python -m sphinx -b html -W --keep-going -n -q -d $(DOCS_OUT)/doctrees docs $(DOCS_OUT)/html
	$(DOCS_VENV)/bin/python tools/docs_links.py $(DOCS_OUT)/html --published $(DOCS_URL) --markdown README.md
	@mkdir -p $(dir $(DOCS_SHOT)); if command -v chromium >/dev/null; then \
		chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2000 \
			--screenshot=$(DOCS_SHOT) file://$(CURDIR)/$(DOCS_OUT)/html/index.html >/dev/null 2>&1 \
			&& echo "make docs: $(DOCS_SHOT)" || { echo "make docs: chromium could not take $(DOCS_SHOT)" >&2; exit 1; }; \
	else echo "make docs: no chromium here, so no $(DOCS_SHOT) (make install-system installs it)"; fi
	@echo "make docs: $(DOCS_OUT)/html/index.html"

demo: install
	$(BIN)/python -m tests.demo

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(VENV2) .venv-airflow-* .venv-latest-* $(DIST_VENV) $(DOCS_VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache \
		.demo dist build
