#!/usr/bin/env bash
# At a restart, the fires due while jobsd was down are missed (caught up or skipped as the job's
# `missed` says); those due while it loads its jobs are only late: they run as scheduled fires
# (jobsd(8), Missed fires). The preload library (tests/support/slow_open.cpp) makes the load
# last while the file `hold` exists, by holding the open of jobs/slow.yaml.
#
#   test_missed_load.sh JOBSCTL JOBSD SLOW_OPEN_LIBRARY
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
preload=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work missedload
mkdir jobs
cat > jobs/tick.yaml <<'YAML'
schedule:
  every: 1s
  missed: all
concurrency: allow
command: "true"
YAML
cat > jobs/slow.yaml <<'YAML'
schedule: "0 0 1 1 *"
command: "true"
YAML
start_daemon() {
  # The sanitizer build's runtime wants to come first; the preload comes before it.
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" LD_PRELOAD="$preload" \
    JOBS_TEST_SLOW_OPEN="$work/hold" "$jobsd" --jobs-dir "$work/jobs" --state-dir "$state"
}
cleanup_more() { rm -f "$work/hold"; }
ran() { [ "$("$jobsctl" history tick --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -ge "$1" ]; }

start_daemon
expect "jobsd starts" "0" "$?"
wait_for 20 ran 2
expect "the job runs every second" "0" "$?"
stop_daemon "$state"
expect "jobsd stops" "0" "$?"

# Down for a few seconds, then a load that lasts three.
sleep 2
touch hold
start_daemon &
starting=$!
wait_for 60 test -e hold.waiting
expect "the load waits" "0" "$?"
sleep 3 # the length of the load, not a wait for something
rm hold
wait "$starting"
expect "jobsd starts again after its slow load" "0" "$?"
loaded=$(grep "info loaded: " "$state/logs/jobsd.log" | tail -n 1)
expect "the load took the three seconds" "1" \
  "$(python3 -c 'import sys; print(int(float(sys.argv[1].split()[-1][:-1]) >= 2.9))' "$loaded")"
wait_for 20 ran 12
expect "the job runs after the restart" "0" "$?"

# Each fire of the stop's seconds is a catch-up; each one from the start of the load on is a
# scheduled fire that ran late. (Whole seconds: the fire in the second the load began may be
# either.)
"$jobsctl" history tick --json -n 0 > history.json
python3 - "$loaded" history.json > fires.txt <<'PY'
import datetime, json, sys
line, path = sys.argv[1], sys.argv[2]
end = datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
began = end - float(line.split()[-1][:-1])
late = {"schedule": 0, "catchup": 0}
for e in json.load(open(path)):
    t = datetime.datetime.fromisoformat(e["scheduled_time"].replace("Z", "+00:00")).timestamp()
    if began + 1 <= t <= end:
        late[e["trigger"]] += 1
print("schedule", late["schedule"], "catchup", late["catchup"])
PY
read -r _ scheduled _ caught < fires.txt
expect "fires due during the load ran as scheduled fires ($(cat fires.txt))" "1 0" \
  "$((scheduled >= 1)) $caught"
stop_daemon "$state"
expect "jobsd stops" "0" "$?"

finish
