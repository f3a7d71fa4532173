# WRDS prefetch (issue 5): the tests start a throwaway PostgreSQL cluster (ftm_assets_tests/support/pg_server.py),
# so `make test` needs the server binaries. Debian's `postgresql` provides them under
# /usr/lib/postgresql/<version>/bin; it is installed only when initdb/pg_ctl are not there yet.
WRDS_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: wrds-postgres bench-prefetch

wrds-postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  echo "PostgreSQL server binaries found: $$(ls -d /usr/lib/postgresql/*/bin | tail -n 1)"; \
	else \
	  echo "Installing Debian postgresql (server binaries for the WRDS prefetch tests)"; \
	  $(WRDS_SUDO) apt-get update -qq && \
	  $(WRDS_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; \
	fi

TEST_DEPS += wrds-postgres

# Prefetch benchmark against a local server with a synthetic quarter (default 5,000 firms).
bench-prefetch: install wrds-postgres
	$(PY) benchmarks/bench_prefetch.py $(BENCH_ARGS)
