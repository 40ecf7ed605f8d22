# store_anomaly: `make demo` runs the platform on generated demo sources; `make test` runs the whole suite.
# Both create the virtualenv and install everything on a machine with Python 3.11 and a local MariaDB/MySQL.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

# The demo's databases on the local server; export your own URLs to override any of them.
MYSQL_SERVER ?= mysql://root@127.0.0.1:3306
export STORE_ANOMALY_OPSHOP_URL ?= $(MYSQL_SERVER)/demo_opshop
export STORE_ANOMALY_SALESORDER_URL ?= $(MYSQL_SERVER)/demo_sales_order
export STORE_ANOMALY_OPPRODUCTION_URL ?= $(MYSQL_SERVER)/demo_opproduction
export STORE_ANOMALY_OPQUALITYCONTROL_URL ?= $(MYSQL_SERVER)/demo_opqualitycontrol
export STORE_ANOMALY_OPEMPEFFICIENCY_URL ?= $(MYSQL_SERVER)/demo_opempefficiency
export STORE_ANOMALY_WAREHOUSE_URL ?= $(MYSQL_SERVER)/store_anomaly
# Where `demo-data` writes: its own variables, never the ones above, so real sources are never overwritten.
# It refuses any database holding tables it did not create.
export STORE_ANOMALY_DEMO_OPSHOP_URL ?= $(MYSQL_SERVER)/demo_opshop
export STORE_ANOMALY_DEMO_SALESORDER_URL ?= $(MYSQL_SERVER)/demo_sales_order
export STORE_ANOMALY_DEMO_OPPRODUCTION_URL ?= $(MYSQL_SERVER)/demo_opproduction
export STORE_ANOMALY_DEMO_OPQUALITYCONTROL_URL ?= $(MYSQL_SERVER)/demo_opqualitycontrol
export STORE_ANOMALY_DEMO_OPEMPEFFICIENCY_URL ?= $(MYSQL_SERVER)/demo_opempefficiency
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

DEMO_START ?= 2025-03-24
DEMO_END ?= 2026-02-15

.PHONY: install demo demo-data backfill ui test benchmark clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# The instance the UI and the CLI share; an existing dagster.yaml (yours) is left alone.
$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

demo-data: install
	$(BIN)/store-anomaly demo-data --start $(DEMO_START) --end $(DEMO_END)

backfill: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/store-anomaly backfill --start $(DEMO_START) --end $(DEMO_END)

ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

demo: demo-data backfill
	$(BIN)/store-anomaly summary
	$(MAKE) --no-print-directory ui

test: install
	$(BIN)/pytest

benchmark: install
	$(BIN)/python benchmarks/backfill.py

clean:
	rm -rf $(VENV) .dagster_home .pytest_cache *.egg-info
