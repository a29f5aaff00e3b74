# Renkei: `make run` sets up and runs everything on embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run setup install test lint typecheck check chromium axe bench clean-var

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 以上が必要です (Python 3.11+ is required)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(STAMP)

setup: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_local_governments
	$(BIN)/python manage.py load_demo_data
	$(BIN)/python manage.py load_demo_lists
	$(BIN)/python manage.py load_demo_trainings
	$(BIN)/python manage.py collectstatic --noinput -v0

run: setup
	@# honcho gives each process its own $$PORT, so ours travels as RENKEI_PORT.
	RENKEI_HOST=$(HOST) RENKEI_PORT=$(PORT) DEBUG=$${DEBUG:-1} $(BIN)/honcho -f Procfile.dev start

chromium:
	@bash scripts/ensure-chromium

# axe-core for the accessibility checks, pinned in package.json/package-lock.json (npm ci installs
# exactly the locked version; nothing is fetched when the tests run).
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

axe: node_modules/axe-core/axe.min.js

# The suite runs in TEST_PROCESSES processes at once (pytest-xdist; each has its own var/ and
# Redis databases, see config/settings.py), then the tests marked serial run alone: those that
# measure a burst or a rate and would measure their neighbours instead.
TEST_PROCESSES ?= 3
test: install chromium axe
	$(BIN)/pytest -n $(TEST_PROCESSES) -m "not serial" $(PYTEST_ARGS)
	$(BIN)/pytest -m serial $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

check: lint typecheck
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: install
	$(BIN)/python bench/send.py --recipients 20000 100000
	$(BIN)/python bench/register.py
	$(BIN)/python bench/postbox_mail.py
	$(BIN)/python bench/inquiry_send.py
	$(BIN)/python bench/pages.py
