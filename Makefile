# make run  — set everything up and run the bot (console chat when BOT_TOKEN is unset)
# make test — set everything up and run every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast lint bench setup clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/investbot run

# The dashboard's browser tests drive Debian's Chromium (Playwright downloads no browser of its
# own): installed here when we are root with apt-get, otherwise those tests skip and say so.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the dashboard's browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium) >/dev/null || echo "chromium could not be installed: browser tests will skip"; \
	else echo "no /usr/bin/chromium and no root apt-get: the dashboard's browser tests will skip"; fi

# One test worker more than the machine has cores: many tests wait on a bot process, a
# browser or PostgreSQL, and the spare worker runs meanwhile (on 2 cores: 5:05 against 5:40).
JOBS ?= $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 1)")

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -n $(JOBS)

# The quick loop while developing: everything but the scenarios marked slow.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS) -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict bot handlers models services

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
