#!/usr/bin/env bash
# Starts one role of the Dagster deployment from the same image: webserver (default), daemon or code-server.
# The daemon first sets the GPU pool's limit, so FTM_MAX_BATCH_JOBS_IN_FLIGHT is the one knob for
# how many batch jobs a backfill or the automation may have in flight, and adds the quarter partitions
# that have ended (the quarter_calendar sensor keeps adding them afterwards).
#
# Where the code location loads: with DAGSTER_CODE_SERVER_HOST set, the webserver and the daemon talk to the
# code server at DAGSTER_CODE_SERVER_HOST:DAGSTER_CODE_SERVER_PORT (docker/dagster/docker-compose.yml; runs
# are launched inside the code server's container); without it, they load ftm_assets.definitions themselves
# ($DAGSTER_HOME/workspace.yaml, as on ECS). DAGSTER_BIND_HOST (0.0.0.0) and DAGSTER_WEBSERVER_PORT (3000)
# say where the servers listen.
set -euo pipefail

role="${1:-webserver}"
bind="${DAGSTER_BIND_HOST:-0.0.0.0}"
code_port="${DAGSTER_CODE_SERVER_PORT:-4000}"

workspace() {
  if [ -z "${DAGSTER_CODE_SERVER_HOST:-}" ]; then
    echo "$DAGSTER_HOME/workspace.yaml"
    return
  fi
  local file
  file="$(mktemp "${TMPDIR:-/tmp}/ftm-workspace-XXXXXX.yaml")"
  cat >"$file" <<EOF
load_from:
  - grpc_server:
      host: ${DAGSTER_CODE_SERVER_HOST}
      port: ${code_port}
      location_name: ftm_assets
EOF
  echo "$file"
}

case "$role" in
  webserver)
    exec dagster-webserver -h "$bind" -p "${DAGSTER_WEBSERVER_PORT:-3000}" -w "$(workspace)"
    ;;
  daemon)
    dagster instance concurrency set ftm_batch_gpu "${FTM_MAX_BATCH_JOBS_IN_FLIGHT:-5}"
    python -m ftm_assets.automation.calendar_sensor
    exec dagster-daemon run -w "$(workspace)"
    ;;
  code-server)
    exec dagster code-server start -h "$bind" -p "$code_port" -m ftm_assets.definitions --location-name ftm_assets
    ;;
  *)
    echo "usage: entrypoint.sh [webserver|daemon|code-server] (got '$role')" >&2
    exit 2
    ;;
esac
