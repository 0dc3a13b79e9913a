# Two commands on a fresh machine: `make run` (install, build the model and index, start the chat page)
# and `make test` (install test tools and run the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint install install-dev index eval bench apt-update browser lexicon clean

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
	$(BIN)/rag eval --out eval/results --baseline eval/results/baseline-707bd45.json

bench: install-dev
	$(BIN)/python -m bench

# Debian packages: chromium for the browser tests; FreeDict's French-English dictionaries (GPL), with which
# English questions over French releases are also searched by their words' translations (optional: without
# them the assistant still answers). The package lists are updated once a make run, when one of these
# packages is missing (for `make run`, only when a dictionary is).
DICTD := /usr/share/dictd
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)
MISSING_BROWSER = $(if $(wildcard $(CHROMIUM)),,chromium)
MISSING_DICTIONARIES = $(if $(wildcard $(DICTD)/freedict-eng-fra.index),,dict-freedict-eng-fra) \
	$(if $(wildcard $(DICTD)/freedict-fra-eng.index),,dict-freedict-fra-eng)
# The missing packages apt-update looks at (prerequisites see their goal's value).
APT_WANTED = $(MISSING_BROWSER) $(MISSING_DICTIONARIES)
run: APT_WANTED = $(MISSING_DICTIONARIES)

apt-update:
	@$(if $(strip $(APT_WANTED)),$(SUDO) apt-get update -qq \
	  || echo "apt-get update failed: installing from the package lists as they are",:)

browser: apt-update
	@$(if $(MISSING_BROWSER),echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get install -y -qq chromium >/dev/null,:)

lexicon: apt-update
	@$(if $(strip $(MISSING_DICTIONARIES)),echo "installing Debian's French-English dictionaries ($(strip \
	  $(MISSING_DICTIONARIES)))"; $(SUDO) apt-get install -y -qq $(MISSING_DICTIONARIES) >/dev/null \
	  || echo "could not install them: English questions over French releases will use the embedding and \
	  cognates only",:)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy rag ui eval bench

test: install-dev browser lexicon lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) index/CURRENT index/gen-* index/.staging-* index/.lock
