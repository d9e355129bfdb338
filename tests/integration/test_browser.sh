#!/usr/bin/env bash
# The dashboard in a real browser against a real jobsd: starts jobsd with its HTTP listener on a
# free loopback port, makes an admin, an operator and a viewer token with jobsctl token create,
# and runs tests/browser/test_dashboard.py (chromium, chromium-driver, python3-selenium), which
# writes its screenshots (dashboard-PAGE-light.png and -dark.png) into SHOTS.
#
#   test_browser.sh JOBSCTL JOBSD SHOTS
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
mkdir -p "$3" && shots=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work browser
export TZ=UTC

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir jobs
cat > jobs/hello.yaml <<YAML
name: Say hello
schedule: "0 9 * * 1-5"
timezone: UTC
timeout: 2m
command: "echo hello from jobs; while [ ! -e '$work/hello-go' ]; do sleep 0.1; done; echo goodbye from jobs"
YAML
# Runs until the test creates $work/release: two runs of it fill Asia/Tokyo's queue (limit 1).
cat > jobs/blocker.yaml <<YAML
schedule: "0 3 * * *"
timezone: Asia/Tokyo
concurrency: allow
timeout: 2m
command: "while [ ! -e '$work/release' ]; do sleep 0.1; done"
YAML
cat > jobs/backup.yaml <<'YAML'
name: Nightly backup
description: Copies the database, then compresses the copy
schedule: "30 2 * * *"
timezone: Europe/Paris
steps:
  - id: dump
    type: shell
    run: "echo dumping"
  - id: compress
    type: shell
    run: "echo compressing"
YAML
# 60 more (disabled), after the others by id: the list has two pages.
for i in $(seq -w 0 59); do
  printf 'schedule: "@daily"\nenabled: false\ncommand: "true"\n' > "jobs/z-filler-$i.yaml"
done
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
queues:
  limits:
    Asia/Tokyo: 1
http:
  listen: 127.0.0.1:$port
YAML
"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state"
expect "jobsd starts" "0" "$?"
answers() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"; }
wait_for 10 answers "http://127.0.0.1:$port/"
expect "jobsd answers on http://127.0.0.1:$port/" "0" "$?"
if [ "$failures" -gt 0 ]; then
  finish
  exit
fi

# The token that `jobsctl token create` prints (once).
token() {
  "$jobsctl" token create "$1" --role "$2" > "token-$1.out" 2>&1
  grep -oE 'jobs_[A-Za-z0-9_-]{43}' "token-$1.out" | head -1
}
export JOBS_ADMIN_TOKEN JOBS_OPERATOR_TOKEN JOBS_VIEWER_TOKEN
JOBS_ADMIN_TOKEN=$(token admin admin)
JOBS_OPERATOR_TOKEN=$(token operator operator)
JOBS_VIEWER_TOKEN=$(token viewer viewer)
expect "three tokens made" "3" "$(printf '%s\n' "$JOBS_ADMIN_TOKEN" "$JOBS_OPERATOR_TOKEN" "$JOBS_VIEWER_TOKEN" | grep -c .)"

# Debian's python3, which has python3-selenium (not a virtualenv's).
/usr/bin/python3 "$here/../browser/test_dashboard.py" --url "http://127.0.0.1:$port" --shots "$shots" \
  --release "$work/release" --hello-go "$work/hello-go"
expect "the dashboard's browser test passes" "0" "$?"
finish
