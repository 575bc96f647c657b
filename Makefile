# Two commands on a fresh machine with Python 3.11+ and make:
#   make demo   set everything up, generate a synthetic city, run the whole pipeline through Airflow
#               (PUPILS=, SEED=; SOURCES=2 splits the city into two school systems, one extract DAG each)
#   make test   set everything up and run the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATASET ?= .skolsam/demo-dataset
PUPILS ?= 10000
SEED   ?= 1
SOURCES ?= 1

.PHONY: install demo test bench lint lock clean warehouse-start warehouse-stop

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/skolsam generate --out $(DATASET) --pupils $(PUPILS) --seed $(SEED) --sources $(SOURCES)
	$(BIN)/skolsam demo --dataset $(DATASET)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/skolsam bench --pupils 100000 --json

warehouse-start: $(STAMP)
	$(BIN)/skolsam warehouse start

warehouse-stop: $(STAMP)
	$(BIN)/skolsam warehouse stop

# Re-resolve the pinned set from the ranges in requirements.in (run on purpose, then commit the result).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade pip
	.lockenv/bin/python -m pip install --quiet -r requirements.in
	.lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^skolsam' > requirements.txt
	rm -rf .lockenv

clean:
	-$(BIN)/skolsam warehouse stop
	rm -rf $(VENV) .skolsam .pytest_cache
