#!/usr/bin/env bash
# jobsd end to end: a real daemon on a temporary folder and socket, driven by the real jobsctl.
# Fires at their instants in their zones, concurrency policies, queue limits and priorities,
# `after` chains, live reload (atomic-rename saves, git checkout, a file turned invalid, a deleted
# job with a running execution), SIGKILL and restart, SIGTERM with a running job.
set -uo pipefail
jobsctl=$1
jobsd=$2
work=$(mktemp -d /tmp/jobs-daemon-XXXXXX)
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/daemon.sh"
# A sleep only this run starts (60 s): other suites on the machine may run "sleep 60" too.
long="60.$$"
cd "$work"
mkdir jobs
export JOBS_STATE_DIR="$work/state"

cleanup() {
  # Up to 60 s: the default grace period (30 s) and kill_grace (10 s) for a running execution.
  stop_daemon "$work/state" 60
  pkill -KILL -f "$work/" 2>/dev/null
  cd /
  rm -rf "$work"
}
trap cleanup EXIT

start_daemon() {
  "$jobsd" --jobs-dir jobs --state-dir state --config jobsd.yaml "$@"
}

sql() {
  python3 - "$work/state/history.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
for row in db.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
}

count() { sql "$1" | head -1; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }

cat > jobsd.yaml <<'YAML'
queues:
  default_limit: 8
  limits: { Asia/Tokyo: 1 }
grace_period: 30s
YAML

# --- Fires at their instants, in their zones.
# Every other second, UTC; and a fixed time a few seconds from now on Tokyo's clocks.
cat > jobs/tick.yaml <<'YAML'
schedule: "*/2 * * * * *"
concurrency: allow
steps:
  - { id: stamp, type: shell, run: 'echo "$JOB_SCHEDULED_TIME $(date -u +%s.%N)" >> ticks' }
YAML
tokyo_at=$(($(date +%s) + 10))
tokyo_cron=$(TZ=Asia/Tokyo date -d "@$tokyo_at" '+%-S %-M %-H %-d %-m *')
cat > jobs/tokyo.yaml <<YAML
timezone: Asia/Tokyo
schedule: "$tokyo_cron"
steps:
  - { id: stamp, type: shell, run: 'echo "\$JOB_SCHEDULED_TIME \$(date -u +%s.%N)" > tokyo' }
YAML
cat > jobs/boot.yaml <<'YAML'
schedule: "@reboot"
command: echo booted >> booted
YAML
start_daemon
expect "jobsd starts and detaches when ready" "0" "$?"
ready_s=$(date +%s)
wait_for 10 test -s booted
expect "@reboot runs at the first start in this boot" "1" "$(wc -l <booted)"

wait_for 20 test -s tokyo
expect "the Tokyo job fired at its local time" \
  "$(date -u -d "@$tokyo_at" +%Y-%m-%dT%H:%M:%S.000Z)" "$(cut -d' ' -f1 tokyo)"
ticks_at_least() { [ "$(wc -l <ticks 2>/dev/null || echo 0)" -ge "$1" ]; }
wait_for 10 ticks_at_least 4
expect "tick fires on even seconds only" "" \
  "$(cut -d' ' -f1 ticks | grep -v -E ':[0-5][02468]\.000Z$')"
# The ticks due once jobsd was ready (those due while it loaded its jobs run late); 3 s in the
# sanitized build.
late=$(python3 - "$ready_s" <<'PY'
import datetime, os, sys
limit = 3.0 if os.environ.get("JOBS_SANITIZED") == "1" else 1.0
worst, counted = 0, 0
for line in open("ticks"):
    scheduled, started = line.split()
    t = datetime.datetime.strptime(scheduled, "%Y-%m-%dT%H:%M:%S.000Z")
    t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
    if t > int(sys.argv[1]):
        worst, counted = max(worst, float(started) - t), counted + 1
if counted < 2:
    print("only %d ticks after jobsd was ready" % counted)
else:
    print("ok" if 0 <= worst < limit else "late by %.3fs" % worst)
PY
)
expect "each tick's process started within a second of its instant" "ok" "$late"
expect "the fires are in the store, once each" "0" \
  "$(count "SELECT count(*) - count(DISTINCT scheduled_ms) FROM fires WHERE job_id = 'tick'")"
zones=$("$jobsctl" status --json | python3 -c '
import json, sys
print(" ".join(q["zone"] for q in json.load(sys.stdin)["queues"]))')
expect "status shows a queue per zone in use" "Asia/Tokyo UTC" "$zones"
mkdir -p "$work/state/logs/timezones/Asia/Tokyo"
expect "the Tokyo queue's log names the fire" "1" \
  "$(grep -c "queue tokyo " "$work"/state/logs/timezones/Asia/Tokyo/*.log)"
rm jobs/tick.yaml jobs/tokyo.yaml

# --- Concurrency: forbid skips (and records why), allow overlaps, replace cancels.
cat > jobs/forbid.yaml <<'YAML'
schedule: "* * * * * *"
concurrency: forbid
command: sleep 2.5
YAML
cat > jobs/replace.yaml <<'YAML'
schedule: "*/2 * * * * *"
concurrency: replace
command: sleep 30
YAML
"$jobsctl" reload >/dev/null
wait_for 10 at_least "SELECT count(*) FROM fires WHERE job_id = 'forbid' AND status = 'skipped'" 2
expect "forbid: a fire while running is recorded as skipped, with the reason" \
  "concurrency: forbid: execution" \
  "$(sql "SELECT reason FROM fires WHERE job_id = 'forbid' AND status = 'skipped' LIMIT 1" |
    cut -c1-30)"
expect "history --status skipped lists them with the reason" "forbid concurrency: forbid: execution" \
  "$("$jobsctl" history forbid --status skipped | head -1 | cut -f2,3 | tr '\t' ' ' | cut -c1-37)"
wait_for 10 at_least "SELECT count(*) FROM job_executions WHERE job_id = 'replace' AND status = 'cancelled'" 1
expect "replace: the running execution is cancelled, saying why" "replaced by the fire of" \
  "$(sql "SELECT error_message FROM job_executions WHERE job_id = 'replace' AND status = 'cancelled' LIMIT 1" |
    cut -c1-23)"
expect "replace: never two at once" "1" \
  "$("$jobsctl" status --json | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)["running"] if r["job_id"] == "replace"))')"
rm jobs/forbid.yaml jobs/replace.yaml
"$jobsctl" reload >/dev/null

# --- A queue's limit and its priority order: Tokyo runs one at a time, higher priority first.
for p in 10 90 50; do
  cat > "jobs/p$p.yaml" <<YAML
timezone: Asia/Tokyo
priority: $p
command: echo p$p
YAML
done
# Holds the queue until the test has looked at it.
cat > jobs/blocker.yaml <<YAML
timezone: Asia/Tokyo
command: while [ ! -e $work/release ]; do sleep 0.05; done
YAML
"$jobsctl" reload >/dev/null
"$jobsctl" trigger blocker >/dev/null
for p in 10 90 50; do "$jobsctl" trigger "p$p" >/dev/null; done
depth=$("$jobsctl" status --json | python3 -c '
import json, sys
q = [q for q in json.load(sys.stdin)["queues"] if q["zone"] == "Asia/Tokyo"][0]
print(q["depth"], q["running"], q["limit"])')
expect "status: the Tokyo queue holds 3, runs 1, limit 1" "3 1 1" "$depth"
touch "$work/release"
wait_for 20 at_least "SELECT count(*) FROM job_executions WHERE job_id LIKE 'p%' AND end_ms IS NOT NULL" 3
expect "queued executions start by priority" "p90 p50 p10" \
  "$(sql "SELECT job_id FROM job_executions WHERE job_id LIKE 'p%' ORDER BY start_ms" | xargs)"
overlap=$(count "SELECT count(*) FROM job_executions a JOIN job_executions b
  ON a.execution_id < b.execution_id AND a.timezone = 'Asia/Tokyo' AND b.timezone = 'Asia/Tokyo'
  AND a.start_ms < b.end_ms AND b.start_ms < a.end_ms")
expect "never two at once in a queue limited to 1" "0" "$overlap"

# --- after: a chain runs when its upstream succeeds.
cat > jobs/extract.yaml <<'YAML'
command: echo extracted
YAML
cat > jobs/load.yaml <<'YAML'
after: [extract]
command: echo loaded
YAML
cat > jobs/report.yaml <<'YAML'
after: [load]
command: echo reported
YAML
"$jobsctl" reload >/dev/null
"$jobsctl" trigger extract --wait >/dev/null
wait_for 10 at_least "SELECT count(*) FROM job_executions WHERE job_id = 'report' AND status = 'success'" 1
expect "after: extract -> load -> report, each triggered by its upstream" \
  "extract|manual|root load|after|extract report|after|load" \
  "$(sql "SELECT job_id, trigger_kind, triggered_by FROM job_executions
          WHERE job_id IN ('extract', 'load', 'report') ORDER BY start_ms" | xargs)"

# --- trigger --wait and --follow exit with the job's status.
cat > jobs/fails.yaml <<'YAML'
command: echo going; exit 3
YAML
"$jobsctl" reload >/dev/null
out=$("$jobsctl" trigger fails --follow)
expect "trigger --follow exits 1 for a failed job" "1" "$?"
expect "trigger --follow shows the output live" "  main | going" "$(grep '|' <<<"$out")"
"$jobsctl" trigger extract --wait >/dev/null
expect "trigger --wait exits 0 for a success" "0" "$?"

# --- Reload: an atomic-rename save, a file turned invalid, a deleted job still running.
cat > jobs/edited.yaml <<'YAML'
schedule: "0 4 * * *"
command: "true"
YAML
"$jobsctl" reload >/dev/null
printf 'schedule: "0 5 * * *"\ncommand: "true"\n' > jobs/.edited.yaml.tmp
mv jobs/.edited.yaml.tmp jobs/edited.yaml
shows_five() { "$jobsctl" list --json | grep '"0 5 \* \* \*"' >/dev/null; }
wait_for 10 shows_five
expect "an atomic-rename save is picked up without a reload" "0" "$?"

cat > jobs/steady.yaml <<'YAML'
schedule: "* * * * * *"
concurrency: allow
command: echo steady
YAML
cat > jobs/follower.yaml <<'YAML'
after: [steady]
command: "true"
YAML
wait_for 10 at_least "SELECT count(*) FROM job_executions WHERE job_id = 'steady'" 1
echo "  this line breaks the YAML: [" >> jobs/steady.yaml
has_error() { "$jobsctl" status | grep 'steady.yaml:' >/dev/null; }
wait_for 10 has_error
expect "status shows the broken file's error with its place" "1" \
  "$("$jobsctl" status | grep -c "^$work/jobs/steady.yaml:[0-9]*:[0-9]*: error:")"
before=$(count "SELECT count(*) FROM job_executions WHERE job_id = 'steady'")
wait_for 10 at_least "SELECT count(*) FROM job_executions WHERE job_id = 'steady'" $((before + 2))
expect "the last good version keeps firing" "0" "$?"
expect "list marks it stale" "1" "$("$jobsctl" list | grep -c '^steady (stale)')"
expect "a job that runs after it stays valid" "0" "$("$jobsctl" status | grep -c 'follower.yaml')"
rm jobs/steady.yaml jobs/follower.yaml

cat > jobs/doomed.yaml <<'YAML'
command: sleep 1; echo survived
YAML
"$jobsctl" reload >/dev/null
doomed=$("$jobsctl" trigger doomed --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["execution_id"])')
rm jobs/doomed.yaml
wait_for 10 at_least "SELECT count(*) FROM job_executions WHERE execution_id = '$doomed' AND status = 'success'" 1
expect "a removed job's running execution finishes" "success" \
  "$(sql "SELECT status FROM job_executions WHERE execution_id = '$doomed'")"
expect "the removed job is gone from the list" "0" "$("$jobsctl" list | grep -c '^doomed')"

# git checkout of another branch of the folder.
git -C jobs init -q && git -C jobs add -A && git -C jobs -c user.email=t@t -c user.name=t commit -qm one
git -C jobs checkout -q -b two
git -C jobs rm -q edited.yaml
printf 'schedule: "0 6 * * *"\ncommand: "true"\n' > jobs/branch-two.yaml
git -C jobs add -A && git -C jobs -c user.email=t@t -c user.name=t commit -qm two
git -C jobs checkout -q master 2>/dev/null || git -C jobs checkout -q main
has_edited() { "$jobsctl" list | grep '^edited' >/dev/null; }
wait_for 10 has_edited
git -C jobs checkout -q two
on_branch_two() { "$jobsctl" list | grep '^branch-two' >/dev/null && ! has_edited; }
wait_for 10 on_branch_two
expect "git checkout of another branch: its jobs replace the old ones" "0" "$?"

# --- SIGKILL while executions run; the restart accounts for everything.
cat > jobs/sleeper.yaml <<YAML
command: sleep $long
YAML
cat > jobs/every2.yaml <<'YAML'
schedule: { cron: "*/2 * * * * *", missed: once }
concurrency: allow
command: "true"
YAML
# A one-off run due while the daemon is down, of a job that never fired before.
# (Far enough ahead that jobsd is killed before it; the daemon stays down until it has passed.)
once_s=$(($(date +%s) + 12))
once_at=$(date -u -d "@$once_s" +%Y-%m-%dT%H:%M:%SZ)
printf 'schedule: { at: "%s", missed: once }\ncommand: "true"\n' "$once_at" > jobs/once.yaml
# Changed while the daemon is down: a new schedule, and a job enabled again.
cat > jobs/changed.yaml <<'YAML'
schedule: { cron: "*/2 * * * * *", missed: once }
concurrency: allow
command: "true"
YAML
cat > jobs/reenabled.yaml <<'YAML'
enabled: true
schedule: { cron: "* * * * * *", missed: all }
concurrency: allow
command: "true"
YAML
"$jobsctl" reload >/dev/null
sleeper=$("$jobsctl" trigger sleeper --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["execution_id"])')
wait_for 10 at_least "SELECT count(*) FROM job_executions WHERE job_id = 'every2'" 1
wait_for 10 at_least "SELECT count(*) FROM job_executions WHERE job_id = 'reenabled'" 1
sed -i 's/^enabled: true$/enabled: false/' jobs/reenabled.yaml
"$jobsctl" reload >/dev/null
kill -KILL "$(cat state/jobsd.lock)"
# Gone once its lock is free (its command line goes before its files are closed). The sleeper
# outlives it, to be killed by the next jobsd.
wait_for 10 lock_free state
# Fires are missed while it is down.
sed -i 's|\*/2 \* \* \* \* \*|*/3 * * * * *|' jobs/changed.yaml
sed -i 's/^enabled: false$/enabled: true/' jobs/reenabled.yaml
while [ "$(date +%s)" -le $((once_s + 1)) ]; do sleep 0.2; done
restarted_ms=$(($(date +%s%N) / 1000000))
start_daemon
expect "jobsd starts again after SIGKILL" "0" "$?"
expect "the execution running at the kill is interrupted" "interrupted" \
  "$(sql "SELECT status FROM job_executions WHERE execution_id = '$sleeper'")"
expect "its processes were killed at the restart" "" "$(pgrep -f "^sleep $long$" | head -1)"
wait_for 10 at_least "SELECT count(*) FROM job_executions WHERE job_id = 'every2' AND trigger_kind = 'catchup'" 1
expect "missed: once runs one catch-up for the fires missed while down" "1" \
  "$(count "SELECT count(*) FROM job_executions WHERE job_id = 'every2' AND trigger_kind = 'catchup'")"
expect "a job's first fire, missed while down, is caught up" "catchup" \
  "$(sql "SELECT trigger_kind FROM job_executions WHERE job_id = 'once'")"
wait_for 10 at_least "SELECT count(*) FROM job_executions WHERE job_id IN ('changed', 'reenabled') AND start_ms > $restarted_ms" 2
expect "a schedule changed while jobsd was down catches nothing up (it starts at the start)" "0" \
  "$(count "SELECT count(*) FROM job_executions WHERE job_id = 'changed' AND (trigger_kind = 'catchup' OR (start_ms > $restarted_ms AND (scheduled_ms / 1000) % 3 != 0))")"
expect "a job enabled while jobsd was down catches nothing up" "0" \
  "$(count "SELECT count(*) FROM job_executions WHERE job_id = 'reenabled' AND trigger_kind = 'catchup'")"
expect "no fire ran twice" "0" \
  "$(count "SELECT count(*) FROM (SELECT scheduled_ms FROM job_executions WHERE job_id = 'every2' AND scheduled_ms IS NOT NULL GROUP BY scheduled_ms HAVING count(*) > 1)")"
# Once these jobs are gone and none of theirs runs, every execution of theirs has ended.
rm jobs/every2.yaml jobs/sleeper.yaml jobs/once.yaml jobs/changed.yaml jobs/reenabled.yaml
"$jobsctl" reload >/dev/null
gone="'every2', 'sleeper', 'once', 'changed', 'reenabled'"
none_of_gone_running() {
  "$jobsctl" status --json | python3 -c '
import json, sys
sys.exit(any(r["job_id"] in ("every2", "sleeper", "once", "changed", "reenabled")
             for r in json.load(sys.stdin)["running"]))'
}
wait_for 10 none_of_gone_running
expect "every execution has ended" "0" \
  "$(count "SELECT count(*) FROM job_executions WHERE end_ms IS NULL AND job_id IN ($gone)")"

expect "@reboot does not run again when jobsd restarts in the same boot" "1" "$(wc -l <booted)"

# --- SIGTERM with a running job: waits for it, then exits 0.
cat > jobs/finishing.yaml <<'YAML'
command: sleep 1; echo finished
YAML
"$jobsctl" reload >/dev/null
finishing=$("$jobsctl" trigger finishing --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["execution_id"])')
stop_daemon "$work/state" 20
expect "SIGTERM: jobsd exits once the running execution ended" "success" \
  "$(sql "SELECT status FROM job_executions WHERE execution_id = '$finishing'")"
expect "SIGTERM: the log says so" "1" "$(grep -c 'TERM: stopping; waiting up to 30s for 1 running execution' state/logs/jobsd.log)"

# With a short grace period the rest is interrupted.
printf 'grace_period: 1s\nkill_grace: 1s\n' > jobsd.yaml
cat > jobs/endless.yaml <<YAML
command: sleep $long
YAML
start_daemon
endless=$("$jobsctl" trigger endless --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["execution_id"])')
wait_for 10 bash -c "pgrep -f '^sleep $long\$'"
stop_daemon "$work/state" 20
status=$(sql "SELECT status FROM job_executions WHERE execution_id = '$endless'")
expect "SIGTERM after the grace period: interrupted" "interrupted" "$status"
if [ "$status" != interrupted ]; then # what the daemon said, to tell why
  tail -n 30 state/logs/jobsd.log
fi
no_sleeper() { ! pgrep -f "^sleep $long\$" >/dev/null; }
wait_for 5 no_sleeper || ps -o pid,ppid,pgid,stat,lstart,cmd -p "$(pgrep -d, -f "^sleep $long\$")"
expect "and no process is left" "" "$(pgrep -f "^sleep $long\$" | head -1)"

finish
