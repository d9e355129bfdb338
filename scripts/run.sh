#!/usr/bin/env bash
# The main job: jobsd in the foreground on the repository's jobs/ folder, with its history
# (SQLite) in state/ and its logs in logs/ (both ignored by git). Ctrl-C stops it; from another
# terminal, `export JOBS_STATE_DIR=$PWD/state` and use build/apps/jobsctl/jobsctl status, list,
# trigger, logs -f...
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
mkdir -p state logs
echo "jobsd: jobs/ -> state/ (history.db, jobsd.sock), logs/; Ctrl-C stops it" >&2
echo "  in another terminal: export JOBS_STATE_DIR=$PWD/state; $build/apps/jobsctl/jobsctl status" >&2
exec "$build/apps/jobsd/jobsd" --foreground --jobs-dir jobs --state-dir state --log-dir logs "$@"
