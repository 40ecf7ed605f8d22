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
# The Dagster instance's runs and event log: a database of the same local server (dagster_instance/dagster.yaml),
# created when missing.
export DAGSTER_MYSQL_HOST ?= 127.0.0.1
export DAGSTER_MYSQL_PORT ?= 3306
export DAGSTER_MYSQL_USER ?= root
export DAGSTER_MYSQL_PASSWORD ?=
export DAGSTER_MYSQL_DB ?= store_anomaly_dagster
# One "planned" event per asset for a run's range, not one per asset and day, and a step's per-day events
# stored in one transaction (README, "Backfills").
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= 1
export DAGSTER_EVENT_BATCH_SIZE ?= 1000

DEMO_START ?= 2025-03-24
DEMO_END ?= 2026-02-15
# The demo's partitions start on its first day (the UI shows no year of empty partitions), its reports go to
# reports/ here. Only the demo's targets set them: the tests choose their own.
DEMO_TARGETS := demo demo-data backfill ui report screenshots shell demo.env
$(DEMO_TARGETS): export STORE_ANOMALY_PARTITIONS_START ?= $(DEMO_START)
$(DEMO_TARGETS): export STORE_ANOMALY_REPORTS_DIR ?= $(CURDIR)/reports

.PHONY: install instance-database chromium demo demo-data backfill ui report screenshots shell demo.env test benchmark clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Headless Chromium for the page tests and the screenshots, with a Chinese font for the pages in Chinese:
# Debian's packages, installed when absent.
chromium:
	@{ command -v chromium >/dev/null && fc-list :lang=zh | grep -q .; } || \
		{ apt-get update && apt-get install -y chromium fonts-wqy-microhei; }

# The instance the UI and the CLI share (run monitoring on, one queued run at a time, its storage in
# DAGSTER_MYSQL_DB); an existing dagster.yaml (yours) is left alone. The database is created when missing.
$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	test -e $@ || cp dagster_instance/dagster.yaml $@

instance-database: install
	@$(BIN)/python -m store_anomaly.instance_storage

demo-data: install
	$(BIN)/store-anomaly demo-data --start $(DEMO_START) --end $(DEMO_END)

backfill: install instance-database $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/store-anomaly backfill --start $(DEMO_START) --end $(DEMO_END)

ui: install instance-database $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

demo: demo-data backfill
	$(BIN)/store-anomaly summary
	$(MAKE) --no-print-directory ui

# Rebuilds the HTML reports from the warehouse (the backfill and the daily job build them too).
report: install
	$(BIN)/store-anomaly report

# docs/executive-summary.png and docs/store-page.png from the demo warehouse (after `make demo` or `make backfill`).
screenshots: install chromium report
	$(BIN)/python docs/screenshots.py $(STORE_ANOMALY_REPORTS_DIR) docs

# The demo's variables for your own shell: `source demo.env`, or `make shell` for a shell with them set.
demo.env:
	@env | grep -E '^(STORE_ANOMALY_|DAGSTER_)' | sed -e 's/^/export /' -e 's/=\(.*\)$$/="\1"/' > $@
	@echo 'export PATH="$(CURDIR)/$(BIN):$$PATH"' >> $@
	@echo "wrote $@: source it to use store-anomaly with the demo's warehouse"

shell: install demo.env
	@echo "store-anomaly is on the PATH with the demo's variables; exit to leave"
	@bash --rcfile demo.env -i

# Lint and format checks first (seconds), then the suite.
LINTED := store_anomaly store_anomaly_tests benchmarks docs
# Two workers: most tests wait on the server, Dagster processes and the browser, so two share two cores well.
# Tests sharing a module-scoped fixture stay on one worker (their `xdist_group` marker); the rest spread out.
TEST_WORKERS ?= 2

test: install chromium
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

benchmark: install
	$(BIN)/python benchmarks/backfill.py

clean:
	rm -rf $(VENV) .dagster_home .pytest_cache *.egg-info reports demo.env
