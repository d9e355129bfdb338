#!/usr/bin/env bash
# The main job: jobsd in the foreground on the repository's jobs/ folder, with its history
# (SQLite) and socket in state/ and its logs in logs/ (both ignored by git), as jobsd.yaml says.
# Ctrl-C stops it; from another terminal, `export JOBS_CONFIG=$PWD/jobsd.yaml` and use
# build/apps/jobsctl/jobsctl status, list, trigger, logs -f...
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
echo "jobsd: jobs/ -> state/ (history.db, jobsd.sock), logs/, as jobsd.yaml says; Ctrl-C stops it" >&2
echo "  in another terminal: export JOBS_CONFIG=$PWD/jobsd.yaml; $build/apps/jobsctl/jobsctl status" >&2
exec "$build/apps/jobsd/jobsd" --foreground --config jobsd.yaml "$@"
