#!/usr/bin/env bash
# Starts one role of the Dagster deployment from the same image: webserver (default) or daemon.
# The daemon first sets the GPU pool's limit, so FTM_MAX_BATCH_JOBS_IN_FLIGHT is the one knob for
# how many AWS Batch jobs a backfill may have in flight.
set -euo pipefail

role="${1:-webserver}"
case "$role" in
  webserver)
    exec dagster-webserver -h 0.0.0.0 -p 3000 -w "$DAGSTER_HOME/workspace.yaml"
    ;;
  daemon)
    dagster instance concurrency set ftm_batch_gpu "${FTM_MAX_BATCH_JOBS_IN_FLIGHT:-5}"
    exec dagster-daemon run -w "$DAGSTER_HOME/workspace.yaml"
    ;;
  *)
    echo "usage: entrypoint.sh [webserver|daemon] (got '$role')" >&2
    exit 2
    ;;
esac
