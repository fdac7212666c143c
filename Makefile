# Two entry points that work on a fresh machine with Python 3.11+ and make:
#   make rollout [PROFILE=gke]   create .venv, run the rollout runbook on the embedded cluster
#   make test                    create .venv, run the tests
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PROFILE ?= baseline
CLUSTER ?= embedded

.PHONY: test rollout lint venv clean apiserver

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("coldstart needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

test: lint
	$(PY) -m pytest -q

rollout: venv
	$(VENV)/bin/coldstart rollout --profile $(PROFILE) --cluster $(CLUSTER)

# ruff (style), mypy (types), import-linter (the layers in pyproject.toml [tool.importlinter])
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

clean:
	rm -rf $(VENV)

apiserver:
	tools/apiserver/build.sh
