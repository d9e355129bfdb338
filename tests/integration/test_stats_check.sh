#!/usr/bin/env bash
# jobsctl stats and jobsctl check through a real jobsd and from the files and the store alone:
# stats' figures and --json keys after runs by `trigger --wait`, the same through jobsd and
# offline; check's line and exit status (the Nagios convention) for each state: OK, a job whose
# last run failed (CRITICAL), no success within --max-age (WARNING), the history store failing
# (CRITICAL), a job file with errors (WARNING), jobsd stopped (CRITICAL), a bad command line or
# an unknown job (UNKNOWN).
#
#   test_stats_check.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work stats
mkdir jobs
export JOBS_CONFIG="$work/jobsd.yaml" JOBS_DIR="$work/jobs"
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
YAML
# Scheduled once a year (not during the test); flaky fails while the file "down" exists.
for job in good flaky idle; do
  cat > "jobs/$job.yaml" <<YAML
schedule: "0 0 1 1 *"
steps:
  - {id: one, type: shell, run: "test ! -e $work/down"}
YAML
done
cat > jobs/broken.yaml <<YAML
schedule: "0 0 1 1 *"
steps:
  - {id: one, type: shell, run: "exit 3"}
YAML

"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state" \
  --log-dir "$state/logs"
expect "jobsd starts" "0" "$?"

# check before any run: every job is enabled and none failed.
out=$("$jobsctl" check)
expect "check before any run: OK" "0 JOBS OK - 4 jobs, last runs ok | jobs=4 failed=0 stale=0 file_errors=0" "$? $out"

for _ in 1 2 3; do "$jobsctl" trigger good --wait >/dev/null 2>&1; done
touch down
"$jobsctl" trigger flaky --wait >/dev/null 2>&1
rm down
"$jobsctl" trigger flaky --wait >/dev/null 2>&1
"$jobsctl" trigger broken --wait >/dev/null 2>&1
"$jobsctl" trigger broken --wait >/dev/null 2>&1

# The figures of each job, one line each: runs by status, rate, duration order, last success.
figures() {
  python3 -c '
import json, sys
for s in json.load(sys.stdin):
    r, d = s["runs"], s["duration_seconds"]
    durations = "-" if d["p50"] is None else (0 <= d["p50"] <= d["p95"] <= d["max"] < 60)
    print(s["job_id"], r["total"], r["success"], r["failed"], s["success_rate"], durations,
          s["skipped_fires"], s["missed_fires"], s["last_success"] is not None)'
}
"$jobsctl" stats --json > online.json
expect "stats through jobsd: each job's runs, success rate, durations, fires, last success" \
  "broken 2 0 2 0.0 True 0 0 False
flaky 2 1 1 0.5 True 0 0 True
good 3 3 0 1.0 True 0 0 True
idle 0 0 0 None - 0 0 False" "$(figures < online.json)"
expect "stats --json: the keys of a job, in order" \
  "job_id runs success_rate duration_seconds skipped_fires missed_fires last_success
total success failed partial_success timeout cancelled interrupted skipped running
p50 p95 max" \
  "$(python3 -c '
import json, sys
s = json.load(open("online.json"))[0]
print(*s); print(*s["runs"]); print(*s["duration_seconds"])')"
expect "stats JOB: that job only" "flaky 2 1 1 0.5 True 0 0 True" \
  "$("$jobsctl" stats flaky --json | figures)"
expect "stats --since in the future: no runs, the last success kept" \
  "good 0 0 0 None - 0 0 True" \
  "$("$jobsctl" stats good --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" --json | figures)"
"$jobsctl" stats nosuchjob > unknown.out 2>&1
expect "stats of a job the history does not know: exit 2" \
  '2 jobsctl: the history has nothing of job "nosuchjob"' "$? $(cat unknown.out)"
"$jobsctl" stats flakey > unknown.out 2>&1
expect "stats of a mistyped job: the nearest id" \
  '2 jobsctl: the history has nothing of job "flakey"; did you mean "flaky"?' "$? $(cat unknown.out)"
expect "stats' table (tab-separated in a pipe): good's columns" "good 3 3 0 0 100.0% " \
  "$("$jobsctl" stats good | awk -F'\t' '{ printf "%s %s %s %s %s %s ", $1, $2, $3, $4, $5, $6 }')"

# check: broken's last run failed.
out=$("$jobsctl" check)
expect "check after broken failed: CRITICAL, naming it" \
  "2 JOBS CRITICAL - 1 job failed last run: broken | jobs=4 failed=1 stale=0 file_errors=0" "$? $out"
out=$("$jobsctl" check good flaky)
expect "check of good and flaky: OK" \
  "0 JOBS OK - 2 jobs, last runs ok | jobs=2 failed=0 stale=0 file_errors=0" "$? $out"
out=$("$jobsctl" check --max-age 1d good idle)
expect "check --max-age: idle never succeeded: WARNING" \
  "1 JOBS WARNING - 1 job without a success within 1d: idle | jobs=2 failed=0 stale=1 file_errors=0" "$? $out"
out=$("$jobsctl" check --max-age 1d good)
expect "check --max-age: good succeeded: OK" \
  "0 JOBS OK - 1 job, last runs ok, each succeeded within 1d | jobs=1 failed=0 stale=0 file_errors=0" "$? $out"
out=$("$jobsctl" check nosuchjob good)
expect "check of an unknown job: UNKNOWN" \
  "3 JOBS UNKNOWN - no job \"nosuchjob\" in the folder | jobs=1 failed=0 stale=0 file_errors=0" "$? $out"
out=$("$jobsctl" check --max-age soon 2>&1)
expect "check --max-age with no duration: UNKNOWN" \
  "3 JOBS UNKNOWN - --max-age: expected a duration (90m, 1d, 1d12h), got \"soon\"" "$? $out"
"$jobsctl" check --bogus >/dev/null 2>&1
expect "check with an unknown option: UNKNOWN (3), not 2" "3" "$?"

# The history store locked by another process (at most 60 s): jobsd's writes wait in memory,
# which CRITICAL says; once it is released, OK again.
hold_store_lock "$state/history.db" "$work/locked" "$work/release"
cleanup_more() { touch "$work/release"; }
wait_for 10 test -e locked
"$jobsctl" trigger good >/dev/null 2>&1
# check_says CODE PATTERN: check good exits CODE and its line matches PATTERN.
check_says() {
  "$jobsctl" check good > check.out
  [ "$?" = "$1" ] && [ "$(grep -c "$2" check.out)" = 1 ]
}
wait_for 20 check_says 2 "^JOBS CRITICAL - history store failing: history store $state/history.db: cannot .*: the store is locked by another process (waited 1000 ms) ([0-9]* writes waiting in memory) | jobs=1 "
expect "check with the history store failing: CRITICAL, with the store's fault" "0" "$?"
touch release
wait "$locker_pid"
wait_for 20 check_says 0 "^JOBS OK - 1 job, last runs ok"
expect "check once the store works again: OK" "0" "$?"

# A jobsd older than this jobsctl (not yet restarted after an upgrade; tests/support/old_jobsd.py
# stands in front of the real one): its list has no last success, which check then reads from
# the store, and stats, which it does not know, is read from the store.
"$here/../support/old_jobsd.py" "$work/old.sock" "$work/jobsd.sock" &
proxy=$!
cleanup_more() { kill "$proxy" 2>/dev/null; }
wait_for 10 test -e "$work/old.sock.ready"
expect "the old jobsd's socket is up" "0" "$?"
out=$("$jobsctl" check --socket "$work/old.sock" --max-age 1d good)
expect "check through an older jobsd: good's last success read from the store" \
  "0 JOBS OK - 1 job, last runs ok, each succeeded within 1d | jobs=1 failed=0 stale=0 file_errors=0" "$? $out"
expect "stats through an older jobsd that does not know it: read from the store" \
  "$("$jobsctl" stats good --json | figures)" \
  "$("$jobsctl" stats --socket "$work/old.sock" good --json | figures)"

# A job file with errors: WARNING, and the worse state wins.
printf 'schedule: "0 0 1 1 *"\nsteps: []\nbogus: 1\n' > jobs/bad.yaml
"$jobsctl" reload >/dev/null 2>&1
out=$("$jobsctl" check good)
expect "check with a bad job file: WARNING" \
  "1 JOBS WARNING - 1 file with errors: $work/jobs/bad.yaml | jobs=1 failed=0 stale=0 file_errors=1" "$? $out"
out=$("$jobsctl" check)
expect "check with a bad file and a failed job: CRITICAL first" \
  "2 JOBS CRITICAL - 1 job failed last run: broken; 1 file with errors: $work/jobs/bad.yaml | jobs=4 failed=1 stale=0 file_errors=1" "$? $out"

# jobsd stopped: CRITICAL; the files and the store are still read.
"$jobsctl" stats --json > online.json
stop_daemon "$state"
out=$("$jobsctl" check good)
expect "check with jobsd stopped: CRITICAL" \
  "2 JOBS CRITICAL - jobsd not running; 1 file with errors: $work/jobs/bad.yaml | jobs=1 failed=0 stale=0 file_errors=1" "$? $out"
rm jobs/bad.yaml
out=$("$jobsctl" check)
expect "check with jobsd stopped reads the store: broken failed" \
  "2 JOBS CRITICAL - jobsd not running; 1 job failed last run: broken | jobs=4 failed=1 stale=0 file_errors=0" "$? $out"
"$jobsctl" stats --json > offline.json
expect "stats from the store without jobsd: the same figures" \
  "$(figures < online.json)" "$(figures < offline.json)"

# A store check cannot read (here, one a newer jobs wrote) is named, and no job is judged on a
# history it could not see.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("INSERT INTO schema_version VALUES (99, 0)"); c.commit()' "$state/history.db"
out=$("$jobsctl" check --max-age 1d)
expect "check with jobsd stopped and an unreadable store: both named" \
  "2 JOBS CRITICAL - jobsd not running; history store unreadable: history store " "$? ${out%%$state*}"
expect "... and no job judged stale or failed" "1" "$(grep -c "jobs=4 failed=0 stale=0 file_errors=0$" <<< "$out")"

finish
