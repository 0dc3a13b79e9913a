# Two commands on a fresh machine: `make run` (install, build the model and index, start the chat page)
# and `make test` (install test tools and run the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint install install-dev index eval bench browser lexicon clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps -e .
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime

install-dev: $(VENV)/.dev

run: install lexicon
	$(BIN)/rag serve

index: install
	$(BIN)/rag index

eval: install
	$(BIN)/rag eval --out eval/results --baseline eval/results/baseline-cf7b198.json

bench: install-dev
	$(BIN)/python -m bench

# Installs Debian packages, with sudo unless root: $(APT_INSTALL) package...
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq

browser:
	@command -v $(CHROMIUM) >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(APT_INSTALL) chromium >/dev/null; }

# FreeDict's French-English dictionaries (Debian packages, GPL): English questions over French releases are
# also searched with their words' translations. Optional: without them the assistant still answers.
DICTD := /usr/share/dictd
lexicon:
	@test -f $(DICTD)/freedict-eng-fra.index -a -f $(DICTD)/freedict-fra-eng.index || { \
	  echo "installing Debian's French-English dictionaries (dict-freedict-eng-fra, dict-freedict-fra-eng)"; \
	  { $(APT_INSTALL) dict-freedict-eng-fra dict-freedict-fra-eng >/dev/null; } \
	  || echo "could not install them: English questions over French releases will use the embedding and cognates only"; }

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy rag ui eval bench

test: install-dev browser lexicon lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) index/CURRENT index/gen-* index/.staging-* index/.lock
