#!/usr/bin/env bash
# A jobsd SIGKILLed while one of its children is between fork and exec (a step starting: the
# child shares jobsd's descriptors, the lock's among them) starts again at once: the lock goes
# with the killed daemon, not with a child that has yet to exec. The preload library
# (tests/support/slow_exec.cpp) holds such a child there while the file `hold` exists.
#
#   test_restart_lock.sh JOBSCTL JOBSD SLOW_EXEC_LIBRARY
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
preload=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work lock
mkdir jobs
cat > jobs/quick.yaml <<'YAML'
schedule: "0 0 1 1 *"
command: "true"
YAML
start_daemon() { "$jobsd" --jobs-dir "$work/jobs" --state-dir "$state"; }
cleanup_more() { rm -f "$work/hold"; }

# The sanitizer build's runtime wants to come first; the preload comes before it.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" LD_PRELOAD="$preload" \
  JOBS_TEST_SLOW_EXEC="$work/hold" start_daemon
expect "jobsd starts with the preload" "0" "$?"
pid=$(cat "$state/jobsd.lock")
touch hold
"$jobsctl" trigger quick > /dev/null
expect "the step is triggered" "0" "$?"
wait_for 10 pgrep -P "$pid" -x jobsd
expect "a child of jobsd waits before its exec" "0" "$?"
kill -KILL "$pid"
wait_for 10 lock_free "$state"
expect "the killed jobsd's lock is free while its child has yet to exec" "0" "$?"
out=$(start_daemon 2>&1)
expect "a new jobsd starts at once" "0 " "$? $out"
rm hold
"$jobsctl" trigger quick --wait > /dev/null
expect "and runs the job" "0" "$?"

finish
