# The two commands: `make demo` and `make test`. Both start from nothing.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEMO_DATA ?= .demo/store.bson

.PHONY: demo demo-fresh test install redis-server pdf-libraries lint typecheck schema bench worker clean

demo: install pdf-libraries ## Serve the API with the embedded store and the demo dataset on 127.0.0.1:8000
	EMBEDDED_DATA_FILE=$(DEMO_DATA) $(BIN)/python -m app serve --seed

demo-fresh: ## The demo from nothing: forget the data the previous demo runs kept
	rm -f $(DEMO_DATA) $(DEMO_DATA).tmp $(DEMO_DATA).journal.*
	$(MAKE) demo

test: install redis-server pdf-libraries lint typecheck ## Lint, type-check and run the whole suite
	$(BIN)/pytest

install: $(VENV)/.installed

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

# The tests start their own redis-server when none answers on 127.0.0.1:6379.
redis-server:
	@command -v redis-server >/dev/null || { $(SUDO) apt-get install -y redis-server \
		|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y redis-server; }; }

# WeasyPrint (report PDFs) needs Pango, and HarfBuzz's subsetter to embed fonts.
PDF_LIBRARIES = libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
pdf-libraries:
	@dpkg -s $(PDF_LIBRARIES) >/dev/null 2>&1 || { $(SUDO) apt-get install -y $(PDF_LIBRARIES) \
		|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y $(PDF_LIBRARIES); }; }

lint: install
	$(BIN)/ruff check app tests bench examples
	$(BIN)/ruff format --check app tests bench examples

typecheck: install
	$(BIN)/mypy

schema: install ## Re-export schema.graphql after changing the API
	$(BIN)/python -m app export-schema --output schema.graphql

worker: install ## Run a job worker (needs REDIS_URL)
	$(BIN)/python -m app worker

bench: install
	$(BIN)/python bench/api.py
	$(BIN)/python bench/embedded.py
	$(BIN)/python bench/events.py
	$(BIN)/python bench/catalog.py
	$(BIN)/python bench/experiments.py
	$(BIN)/python bench/economics.py

clean:
	rm -rf $(VENV) .uv .pytest_cache .mypy_cache .ruff_cache
