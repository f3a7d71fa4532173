# Operator view (issue 8): the UI tests drive Debian's `chromium` headless with Playwright's Python package.
# No browser is ever downloaded (`playwright install` is not run): the tests point Playwright at
# /usr/bin/chromium. Chromium is installed only when missing; playwright (+ pyee) is in pyproject.toml's
# `test` extra (the main venv).
UI_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: ui-chromium ui-tools

ui-chromium:
	@if [ -x /usr/bin/chromium ]; then \
	  echo "chromium found: $$(/usr/bin/chromium --version 2>/dev/null)"; \
	else \
	  echo "Installing Debian chromium (headless browser for the UI screenshot tests)"; \
	  $(UI_SUDO) apt-get update -qq && \
	  $(UI_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	fi

ui-tools: ui-chromium $(VENV)/.installed

TEST_DEPS += ui-tools

# The README's picture of the asset graph: a fresh `dagster dev` in a temporary folder runs the backfill
# scenario of the tests (a few minutes), then headless Chromium saves docs/screenshots/asset-graph.png. Tests
# never write into the checkout; commit the new picture when the UI changed.
.PHONY: screenshots
screenshots: install ui-tools
	$(PY) -m ftm_assets_tests.support.ui docs/screenshots

# FTM_MAX_BATCH_JOBS_IN_FLIGHT (default 5): at most that many batch jobs in flight, on the instance in
# DAGSTER_HOME. An explicit pool limit outranks dagster.yaml's default_limit; `make dev` applies it first.
FTM_MAX_BATCH_JOBS_IN_FLIGHT ?= 5
BATCH_POOL := ftm_batch_gpu

.PHONY: pool-limit
pool-limit: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster instance concurrency set $(BATCH_POOL) $(FTM_MAX_BATCH_JOBS_IN_FLIGHT)

# Quarter partitions live on the instance: add the quarters that have ended before the UI opens (the
# quarter_calendar sensor adds later ones while it runs).
.PHONY: quarters
quarters: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m ftm_assets.automation.calendar_sensor

dev: pool-limit quarters

# Backfill by quarter from the command line, against the running `make dev` (the UI's "Materialize all" with
# a quarter selection): every asset, every batch of the quarters, upstream first. Prints the backfill id.
#   make backfill QUARTERS="2024Q3 2024Q4"      then, if some partitions failed:   make backfill-retry BACKFILL=<id>
FTM_DEV_URL ?= http://127.0.0.1:$(or $(FTM_DEV_PORT),3000)
FTM_ASSETS := raw_transcripts firm_manifest firm_topics firm_topic_failures quarter_topic_summary quarter_themes theme_exposure
GRAPHQL := $(VENV)/bin/dagster-graphql --remote $(FTM_DEV_URL)
LAUNCH_BACKFILL := mutation($$p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $$p) \
  { __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }
RETRY_BACKFILL := mutation($$id: String!) { reexecutePartitionBackfill(reexecutionParams: \
  {parentRunId: $$id, strategy: FROM_FAILURE}) { __typename ... on LaunchBackfillSuccess { backfillId } \
  ... on PythonError { message } } }

.PHONY: backfill backfill-retry
backfill: install
	@test -n "$(QUARTERS)" || { echo 'usage: make backfill QUARTERS="2024Q3 2024Q4"' >&2; exit 2; }
	$(GRAPHQL) -t '$(LAUNCH_BACKFILL)' -v "$$($(PY) -c 'import json, sys; \
	  print(json.dumps({"p": {"partitionNames": sys.argv[1].split(), "title": "make backfill", \
	  "assetSelection": [{"path": [a]} for a in sys.argv[2].split()]}}))' '$(QUARTERS)' '$(FTM_ASSETS)')"

backfill-retry: install
	@test -n "$(BACKFILL)" || { echo 'usage: make backfill-retry BACKFILL=<backfill id>' >&2; exit 2; }
	$(GRAPHQL) -t '$(RETRY_BACKFILL)' -v '{"id": "$(BACKFILL)"}'
