#!/usr/bin/env bash
# Faults inside steps, in a real jobsd driven by the real jobsctl: a process that ignores
# SIGTERM past its timeout, a fork bomb held by limits.processes, the PostgreSQL server killed
# under a running sql step, and HTTP endpoints that hang, reset, answer garbage or invalid JSON.
# After each fault the daemon is healthy: jobsctl status answers, an unrelated job fired every
# second on time, jobsd.log has no "internal error", jobsd kept its pid and has no zombie child;
# and the fault's execution ended with the right status and says why in its history and log.
#
#   test_faults_steps.sh JOBSCTL JOBSD
#
# Parts that need what this machine lacks (root and a user to run as, a throwaway one from
# useradd or else nobody, for the fork bomb; a PostgreSQL server and psql for the sql step)
# print "skip ..." instead of failing.
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
work=$(mktemp -d /tmp/jobs-faults-steps-XXXXXX)
# The PostgreSQL cluster's folder: postgres.sh makes it (its server user must reach it).
pg="$work-pg"
pg_started=0
http_pid=
bomb_user=   # a throwaway user for the fork bomb, deleted by cleanup
# Arguments only this run's processes carry (sleep takes them as seconds): how the test finds
# what a step left behind without looking at other suites' processes.
term_mark="71.$$$RANDOM"
bomb_mark="72.$$$RANDOM"
cd "$work" || exit 1
mkdir jobs
export JOBS_STATE_DIR="$work/state"
unset JOBS_SOCKET JOBS_CONFIG

# The pids of the processes that have `$1` as one of their arguments.
procs_with() {
  python3 - "$1" <<'PY'
import os, sys
want = sys.argv[1].encode()
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        continue
    if want in args:
        print(pid)
PY
}

daemon_pid() { cat "$work/state/jobsd.lock" 2>/dev/null; }

cleanup() {
  local pid
  stop_daemon "$work/state" 30
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null
  for mark in "$term_mark" "$bomb_mark"; do
    for pid in $(procs_with "$mark"); do
      kill -KILL "$pid" 2>/dev/null
    done
  done
  if [ -n "$bomb_user" ]; then
    # userdel refuses while a process of the user runs: those just killed may not be gone yet.
    wait_for 5 userdel "$bomb_user"
    groupdel "$bomb_user" 2>/dev/null
  fi
  if [ "$pg_started" -eq 1 ]; then
    "$here/../support/postgres.sh" stop "$pg" >/dev/null 2>&1 || rm -rf "$pg"
  fi
  if [ "$failures" -ne 0 ] && [ -f "$work/state/logs/jobsd.log" ]; then
    echo "--- the end of jobsd.log"
    tail -n 30 "$work/state/logs/jobsd.log"
  fi
  cd /
  rm -rf "$work"
}
trap cleanup EXIT

sql() {
  python3 - "$work/state/history.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
for row in db.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
}

# A field of a job's last execution, from `jobsctl history --json`.
last() {
  "$jobsctl" history "$1" --limit 1 --json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
print(rows[0][sys.argv[1]] if rows else "")' "$2"
}

# The seconds from the timestamp of the first log line matching $2 to that of the first
# matching $3, in the log of the last execution of job $1.
log_gap() {
  "$jobsctl" logs "$1" | python3 -c '
import datetime, re, sys
def at(pattern, lines):
    for line in lines:
        if re.search(pattern, line):
            stamp = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
            return stamp.timestamp()
    sys.exit("no line matches " + pattern)
lines = sys.stdin.read().splitlines()
print("%.3f" % (at(sys.argv[2], lines) - at(sys.argv[1], lines)))' "$2" "$3"
}

# `value` is within [low, high]: "yes", or the value.
within() {
  python3 -c 'import sys; v, lo, hi = map(float, sys.argv[1:]); print("yes" if lo <= v <= hi else v)' \
    "$1" "$2" "$3"
}

# The zombie children of jobsd: a step's process or a leftover it did not reap.
zombies() {
  local pid
  pid=$(daemon_pid)
  for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
    if [ "$(awk '{print $3}' /proc/"$child"/stat 2>/dev/null)" = "Z" ]; then
      echo "$child"
    fi
  done
}
no_zombies() { [ -z "$(zombies)" ]; }

# The tick job records each fire's instant and when its process ran.
tick_seen() { grep -q "^$(date -u -d "@$1" +%Y-%m-%dT%H:%M:%S).000Z " ticks 2>/dev/null; }
# Every second from `since` to now has its tick, each within 2 s of its instant (5 s in the
# sanitized build, whose every spawn is slower).
ticks_report() {
  python3 - "$1" "$2" <<'PY'
import datetime, os, sys
since, until = int(sys.argv[1]), int(sys.argv[2])
limit = 5.0 if os.environ.get("JOBS_SANITIZED") == "1" else 2.0
seen = {}
for line in open("ticks"):
    scheduled, ran = line.split()
    t = datetime.datetime.strptime(scheduled, "%Y-%m-%dT%H:%M:%S.000Z")
    t = int(t.replace(tzinfo=datetime.timezone.utc).timestamp())
    seen[t] = float(ran) - t
missing = [t for t in range(since, until + 1) if t not in seen]
late = [(t, seen[t]) for t in range(since, until + 1) if t in seen and not 0 <= seen[t] < limit]
if missing or late:
    print("missing %s; late %s" % (missing[:5], ["%d by %.2fs" % x for x in late[:5]]))
else:
    print("ok")
PY
}

# "yes" when `text` ($1) matches the extended regular expression $2, else the text.
matching() {
  if grep -q -E -- "$2" <<<"$1"; then
    echo yes
  else
    echo "$1"
  fi
}

# What a fault said, for the reader of the test's output.
note() { echo "     ($1)"; }

# After a fault: the daemon answers, kept its pid, fired the tick job every second since
# `since` and on time, logged no internal error and left no zombie.
healthy() {
  local label=$1 since=$2 until
  "$jobsctl" status >/dev/null 2>&1
  expect "$label: jobsctl status answers" "0" "$?"
  expect "$label: jobsd is still the same process" "$jobsd_pid" "$(daemon_pid)"
  until=$(date +%s)
  wait_for 10 tick_seen "$until"
  expect "$label: the tick job fired every second, on time, meanwhile" "ok" \
    "$(ticks_report "$since" "$until")"
  expect "$label: no internal error in jobsd.log" "0" \
    "$(grep -c "internal error" state/logs/jobsd.log)"
  wait_for 5 no_zombies
  expect "$label: jobsd has no zombie child" "" "$(zombies | xargs)"
}

# --- The daemon, with the PostgreSQL cluster of the sql fault when there can be one.
pg_reason=
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ] || ! command -v psql >/dev/null; then
  pg_reason="no PostgreSQL server or psql"
elif [ "$(id -u)" -eq 0 ] && ! getent passwd postgres >/dev/null; then
  pg_reason="no postgres user"
else
  pg_started=1
  if ! "$here/../support/postgres.sh" start "$pg" >pg-start.log 2>&1; then
    pg_reason="postgres.sh start failed: $(tail -n 1 pg-start.log)"
  fi
fi
as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
# As the cluster's superuser, over its Unix socket (from /: the server's user cannot enter
# $work).
pg_admin() {
  (cd / && as_server "$pg_bin/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$pg" -p "$(cat "$pg/port")" \
    -U postgres -d jobs_test "$@")
}

{
  echo "default_timezone: UTC"
  echo "kill_grace: 3s"
  echo "grace_period: 5s"
  echo "queues: { default_limit: 8 }"
  if [ -z "$pg_reason" ]; then
    printf 'PG_PASSWORD=%s\n' "$(cat "$pg/password")" >secrets
    chmod 600 secrets
    echo "secrets_file: $work/secrets"
    echo "connections:"
    echo "  faultdb:"
    echo "    type: postgresql"
    echo "    conninfo: \"$(cat "$pg/conninfo") connect_timeout=5\""
    echo "    password: \${secret.PG_PASSWORD}"
  fi
} >jobsd.yaml

# The unrelated job: every second, its instant and when its process ran.
cat >jobs/tick.yaml <<YAML
schedule: "* * * * * *"
concurrency: allow
command: echo "\$JOB_SCHEDULED_TIME \$(date -u +%s.%N)" >> $work/ticks
YAML

"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$work/state"
expect "jobsd starts" "0" "$?"
jobsd_pid=$(daemon_pid)
wait_for 10 test -s ticks
expect "the tick job fires" "0" "$?"

# --- A step that ignores SIGTERM, past its timeout: SIGTERM, then SIGKILL after kill_grace (3s).
cat >jobs/stubborn.yaml <<YAML
steps:
  - id: stubborn
    type: shell
    timeout: 2s
    run: |
      trap '' TERM
      sleep $term_mark &
      echo "ready"
      exec python3 -c '
      import signal, time
      signal.signal(signal.SIGTERM, lambda *_: print("got SIGTERM, ignoring it", flush=True))
      while True:
          time.sleep(1)
      ' $term_mark
YAML
"$jobsctl" reload >/dev/null
since=$(date +%s)
"$jobsctl" trigger stubborn --wait >stubborn.out 2>&1
expect "SIGTERM ignored: jobsctl trigger --wait exits 5 (timed out)" "5" "$?"
expect "SIGTERM ignored: no process of the step remains" "" "$(procs_with "$term_mark" | xargs)"
expect "SIGTERM ignored: the execution is 'timeout'" "timeout" "$(last stubborn status)"
expect "SIGTERM ignored: history says which step timed out, and after what" \
  'step "stubborn": timed out after 2s (killed: it ignored SIGTERM for the grace period)' \
  "$(last stubborn error_message)"
expect "SIGTERM ignored: the step's log ends with its timeout" "1" \
  "$("$jobsctl" logs stubborn | grep -c -- '--- step stubborn: timeout: timed out after 2s (killed: .*) in ')"
expect "SIGTERM ignored: SIGTERM came at the timeout (2s after the start)" "yes" \
  "$(within "$(log_gap stubborn 'out: ready$' 'got SIGTERM, ignoring it')" 1.5 4)"
expect "SIGTERM ignored: the end came kill_grace (3s) after SIGTERM" "yes" \
  "$(within "$(log_gap stubborn 'got SIGTERM' '--- step stubborn: timeout')" 2.5 5)"
expect "SIGTERM ignored: SIGKILL ended the step (its recorded signal)" "9" \
  "$(sql "SELECT signal FROM step_executions WHERE execution_id = '$(last stubborn execution_id)'")"
healthy "SIGTERM ignored" "$since"

# --- A fork bomb run as another user, held by limits.processes: the forks past 100 fail with
# EAGAIN, the step ends (its own failure) and what it forked is killed with it; the next step,
# as that user under the same limit, can fork again; root's processes (the daemon, the tick job)
# never noticed. The limit counts all the processes of the user: a throwaway user of its own
# keeps other suites' processes of nobody (and the unit test's nobody fork test) out of it.
if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null && command -v userdel >/dev/null; then
  name=jobs-bomb-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
  if useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin --user-group \
    "$name" 2>useradd.err; then
    bomb_user=$name
    runner=$name
  else
    echo "note: useradd failed ($(head -n 1 useradd.err)): the fork bomb runs as nobody"
  fi
fi
if [ -z "$bomb_user" ] && getent passwd nobody >/dev/null; then
  runner=nobody
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "skip fork bomb: needs root, to run the job as another user"
elif [ -z "${runner:-}" ]; then
  echo "skip fork bomb: no user to run it as (useradd failed and there is no user nobody)"
else
  cat >jobs/bomb.yaml <<YAML
run_as: $runner
working_directory: /
timeout: 2m
limits: { processes: 100 }
steps:
  - id: bomb
    type: shell
    run: |
      exec python3 -c '
      import errno, os, sys
      forked = failed = 0
      errors = set()
      for _ in range(10000):
          if forked == 1000:
              break  # the limit did not hold: no need to prove it with 10,000 processes
          try:
              pid = os.fork()
          except OSError as e:
              failed += 1
              errors.add(errno.errorcode.get(e.errno, str(e.errno)))
              continue
          if pid == 0:
              try:
                  os.execvp("sleep", ["sleep", sys.argv[1]])
              finally:
                  os._exit(127)
          forked += 1
      print("forked %d, failed %d (%s)" % (forked, failed, " ".join(sorted(errors))), flush=True)
      sys.exit(1 if failed else 0)
      ' $bomb_mark
  - id: after
    type: shell
    when: always
    run: echo "after the bomb \$(id -un) can fork again"
YAML
  cp jobs/bomb.yaml bomb-as-root.yaml
  sed -i '/^run_as:/d' bomb-as-root.yaml
  validate=$("$jobsctl" validate bomb-as-root.yaml jobs/bomb.yaml 2>&1)
  expect "validate: limits.processes in a job run as root is a warning, with its place" \
    "bomb-as-root.yaml:3:22: warning: \"processes\": the steps run as root, whom Linux does not hold to this limit; set run_as to another user" \
    "$(grep -F ': warning: ' <<<"$validate")"
  "$jobsctl" reload >/dev/null
  since=$(date +%s)
  "$jobsctl" trigger bomb --wait >bomb.out 2>&1
  expect "fork bomb: jobsctl trigger --wait exits 1 (failed)" "1" "$?"
  expect "fork bomb: no process of it remains" "" "$(procs_with "$bomb_mark" | xargs)"
  expect "fork bomb: the execution is 'failed', by the bomb step's exit code" \
    'failed|step "bomb": exit code 1' "$(last bomb status)|$(last bomb error_message)"
  counts=$("$jobsctl" logs bomb --step bomb | grep -o 'out: forked .*' | python3 -c '
import re, sys
m = re.fullmatch(r"out: forked (\d+), failed (\d+) \((.*)\)", sys.stdin.read().strip())
if not m:
    sys.exit("no count in the log")
forked, failed = int(m.group(1)), int(m.group(2))
print("ok" if forked < 100 and forked + failed == 10000 and m.group(3) == "EAGAIN"
      else m.group(0))')
  expect "fork bomb: fewer than 100 forks succeeded, the others failed with EAGAIN" "ok" "$counts"
  note "$("$jobsctl" logs bomb --step bomb | grep -o 'forked .*')"
  expect "fork bomb: the next step, as the same user under the same limit, forks again" "1" \
    "$("$jobsctl" logs bomb --step after | grep -c "out: after the bomb $runner can fork again\$")"
  expect "fork bomb: it ended on its own, well before its timeout" "yes" \
    "$(within "$(last bomb duration_seconds)" 0 60)"
  healthy "fork bomb" "$since"
fi

# --- The PostgreSQL server killed (SIGKILL on the postmaster) under a running sql step.
if [ -n "$pg_reason" ]; then
  echo "skip postgres killed: $pg_reason"
else
  pg_admin -c "CREATE TABLE fault_sleep (seconds float)" \
    -c "INSERT INTO fault_sleep VALUES (30)" -c "GRANT SELECT ON fault_sleep TO jobs_test"
  cat >jobs/pgsleep.yaml <<'YAML'
steps:
  - id: nap
    type: sql
    connection: faultdb
    query: SELECT pg_sleep(seconds) AS slept, 'woke' AS state FROM fault_sleep
    timeout: 2m
YAML
  "$jobsctl" reload >/dev/null
  since=$(date +%s)
  "$jobsctl" trigger pgsleep --wait >pgsleep.out 2>&1 &
  waiter=$!
  sleeping() { [ "$(pg_admin -c "SELECT count(*) FROM pg_stat_activity
    WHERE wait_event = 'PgSleep' AND usename = 'jobs_test'")" -ge 1 ]; }
  wait_for 20 sleeping
  expect "postgres killed: the sql step is in pg_sleep" "0" "$?"
  killed_at=$(date +%s.%N)
  kill -KILL "$(head -n 1 "$pg/data/postmaster.pid")"
  waiter_done() { ! kill -0 "$waiter"; }
  wait_for 30 waiter_done
  wait "$waiter"
  expect "postgres killed: jobsctl trigger --wait exits 1 (failed)" "1" "$?"
  took=$(python3 -c "import time; print('%.3f' % (time.time() - $killed_at))")
  expect "postgres killed: the step failed promptly (within 5s, not after its 30s sleep)" "yes" \
    "$(within "$took" 0 5)"
  expect "postgres killed: the execution is 'failed'" "failed" "$(last pgsleep status)"
  message=$(last pgsleep error_message)
  note "$message"
  # One line, as jobs.log and every message of the store are (libpq's own has line breaks).
  expect "postgres killed: the error is one line" "1" "$(wc -l <<<"$message")"
  expect "postgres killed: history has the driver's error" "yes" \
    "$(matching "$message" \
      '^step "nap": .*(server closed the connection unexpectedly|terminating connection)')"
  expect "postgres killed: the step's log has it too" "1" \
    "$("$jobsctl" logs pgsleep | grep -c -E -- '--- step nap: failed: .*(server closed the connection|terminating connection)')"
  healthy "postgres killed" "$since"

  # While it is down, a run fails at once with the connection's error.
  "$jobsctl" trigger pgsleep --wait >pgdown.out 2>&1
  expect "postgres down: a run fails" "1" "$?"
  message=$(last pgsleep error_message)
  note "$message"
  expect "postgres down: saying the connection was refused" "yes" \
    "$(matching "$message" '^step "nap": cannot connect to faultdb: .*Connection refused')"

  # Restarted (once the killed server's processes have let go of its shared memory), the next
  # run succeeds.
  pg_restart() {
    (cd / && as_server "$pg_bin/pg_ctl" start -D "$pg/data" -w -t 30 -l "$pg/server.log") \
      >/dev/null 2>&1
  }
  wait_for 30 pg_restart
  expect "postgres restarted" "0" "$?"
  pg_admin -c "UPDATE fault_sleep SET seconds = 0"
  since=$(date +%s)
  "$jobsctl" trigger pgsleep --wait >pgagain.out 2>&1
  expect "postgres restarted: the next run succeeds" "0" "$?"
  expect "postgres restarted: with the query's row in its log" "1" \
    "$("$jobsctl" logs pgsleep --step nap | grep -c 'out: .*woke')"
  healthy "postgres restarted" "$since"
fi

# --- HTTP endpoints that misbehave, counting the connections each job made.
exec {http_out}< <(exec python3 "$here/../support/faulty_http_server.py" --log "$work/http.jsonl")
http_pid=$!
read -r _ _ http_port <&"$http_out"
base="http://127.0.0.1:$http_port"
cat >jobs/http-hang.yaml <<YAML
steps:
  - { id: call, type: http, url: "$base/hang/a", request_timeout: 1s, max_retries: 2,
      retry_delay: 1s }
YAML
cat >jobs/http-reset.yaml <<YAML
steps:
  - { id: call, type: http, url: "$base/reset/limited", max_retries: 2, retry_delay: 1s }
YAML
cat >jobs/http-reset-default.yaml <<YAML
steps:
  - { id: call, type: http, url: "$base/reset/default", retry_delay: 1s }
YAML
cat >jobs/http-garbage.yaml <<YAML
steps:
  - { id: call, type: http, url: "$base/garbage/a", retry_delay: 1s }
YAML
cat >jobs/http-badjson.yaml <<YAML
steps:
  - { id: x, type: http, url: "$base/badjson/a" }
  - { id: good, type: http, url: "$base/json/a" }
  - id: use
    type: shell
    run: |
      echo "x: name=[\${steps.x.json.name}] status=\${steps.x.status_code} body=\${steps.x.body}"
      echo "good: name=[\${steps.good.json.name}] items=\${steps.good.json.items}"
YAML
"$jobsctl" reload >/dev/null
since=$(date +%s)
http_jobs="http-hang http-reset http-reset-default http-garbage http-badjson"
waiters=()
for job in $http_jobs; do
  ("$jobsctl" trigger "$job" --wait >"$job.out" 2>&1; echo $? >"$job.rc") &
  waiters+=($!)
done
wait "${waiters[@]}" # not a bare wait: that would wait for the server too
connections() {
  python3 - "$1" <<'PY'
import json, sys
print(sum(1 for line in open("http.jsonl") if json.loads(line)["path"] == sys.argv[1]))
PY
}
step_lines() { "$jobsctl" logs "$1" --step "$2"; }

expect "http hang: the job fails" "1|failed" "$(cat http-hang.rc)|$(last http-hang status)"
expect "http hang: request_timeout (1s) ends each attempt; the error says so, and counts them" \
  "yes" "$(matching "$(last http-hang error_message)" \
    "^step \"call\": GET $base/hang/a: Operation timed out after 1[0-9]{3} milliseconds with 0 bytes received after 3 attempts\$")"
expect "http hang: 1 + max_retries (2) connections" "3" "$(connections /hang/a)"
expect "http hang: waits of retry_delay (1s), then twice that" \
  "retry 1 of 2 in 1s|retry 2 of 2 in 2s" \
  "$(step_lines http-hang call | grep -o 'retry [0-9] of [0-9] in [0-9]*s' | paste -sd'|')"
expect "http hang: the job took the 3 attempts of 1s and the 3s of waits" "yes" \
  "$(within "$(last http-hang duration_seconds)" 5.9 15)"

expect "http reset: the job fails" "1|failed" "$(cat http-reset.rc)|$(last http-reset status)"
expect "http reset: the error names the reset and the attempts" \
  "step \"call\": GET $base/reset/limited: Recv failure: Connection reset by peer after 3 attempts" \
  "$(last http-reset error_message)"
expect "http reset: 1 + max_retries (2) connections" "3" "$(connections /reset/limited)"
expect "http reset, default max_retries: 1 + 3 connections" "4" "$(connections /reset/default)"
expect "http reset, default max_retries: the error counts 4 attempts" "yes" \
  "$(matching "$(last http-reset-default error_message)" 'Connection reset by peer after 4 attempts$')"
expect "http reset, default max_retries: retries 1, 2 and 3 of 3, after 1s, 2s and 4s" \
  "retry 1 of 3 in 1s|retry 2 of 3 in 2s|retry 3 of 3 in 4s" \
  "$(step_lines http-reset-default call | grep -o 'retry [0-9] of [0-9] in [0-9]*s' | paste -sd'|')"

# Not an HTTP response is not a transport error (jobs(5) retries those): one attempt.
expect "http garbage: the job fails" "1|failed" "$(cat http-garbage.rc)|$(last http-garbage status)"
expect "http garbage: the error names the URL and what came back" \
  "step \"call\": GET $base/garbage/a: Received HTTP/0.9 when not allowed" \
  "$(last http-garbage error_message)"
expect "http garbage: not retried" "1" "$(connections /garbage/a)"

# A 200 whose body is not JSON succeeds; its json is empty (jobs(5)), its body is there.
expect "http invalid JSON: the job succeeds" "0|success" \
  "$(cat http-badjson.rc)|$(last http-badjson status)"
expect "http invalid JSON: \${steps.x.json.name} is empty, the body is the text" \
  'out: x: name=[] status=200 body={"name": "truncated", "items": [1, 2' \
  "$(step_lines http-badjson use | grep -o 'out: x: .*')"
expect "http invalid JSON: (valid JSON reads as usual)" 'out: good: name=[ok] items=[1,2]' \
  "$(step_lines http-badjson use | grep -o 'out: good: .*')"
expect "http invalid JSON: one connection each, no retry of a 200" "1 1" \
  "$(connections /badjson/a) $(connections /json/a)"
# The log should say why the json fields will be empty; it only gives the size of the body.
# (Its URL taken out of the lines: it holds "json" too.)
expect "http invalid JSON: the step's log says the body is not JSON" "yes" \
  "$(matching "$(step_lines http-badjson x | sed "s|$base/badjson/a||g")" '[Jj][Ss][Oo][Nn]')"
healthy "http faults" "$since"

finish
