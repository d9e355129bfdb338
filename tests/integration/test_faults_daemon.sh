#!/usr/bin/env bash
# jobsd under faults, end to end: a real daemon on temporary folders, driven by the real jobsctl.
#  1. The state folder (history.db, its WAL, the logs) on a full disk, then given space again.
#  2. history.db locked by another process (BEGIN EXCLUSIVE) while jobs fire and a trigger comes.
#  3. The wall clock jumping forward and back (libfaketime in front of jobsd only).
#  4. A time zone's tz database file deleted or broken under a running daemon, then reloads.
# Parts 1 and 4 need a private mount namespace (root and unshare(1)); without one they print
# "skip". Part 3 needs libfaketime (Debian package libfaketime); without it, "skip".
set -uo pipefail
jobsctl=$(readlink -f "$1")
jobsd=$(readlink -f "$2")
here=$(cd "$(dirname "$0")" && pwd)

# The mounts (a tiny tmpfs, a copy of the zoneinfo folder over the real one) are made in a mount
# namespace of this script's own: they vanish with it and nothing outside ever sees them.
if [ -z "${JOBS_FAULTS_OUTER_NS:-}" ] && [ "$(id -u)" = 0 ] &&
  unshare -m --propagation private true 2>/dev/null; then
  JOBS_FAULTS_OUTER_NS=$(readlink /proc/self/ns/mnt) exec unshare -m --propagation private \
    bash "$0" "$jobsctl" "$jobsd"
fi
private_mounts=false
if [ -n "${JOBS_FAULTS_OUTER_NS:-}" ] && [ "$(readlink /proc/self/ns/mnt)" != "$JOBS_FAULTS_OUTER_NS" ]; then
  private_mounts=true
fi

work=$(mktemp -d /tmp/jobs-faults-XXXXXX)
source "$here/expect.sh"
source "$here/daemon.sh"
started_at=$(date +%s)
mounts=()
locker_pid=

cleanup() {
  [ -n "$locker_pid" ] && kill -KILL "$locker_pid" 2>/dev/null
  for state in "$work"/*/state "$work"/*/disk/state; do
    [ -d "$state" ] && stop_daemon "$state"
  done
  pkill -KILL -f "$work/" 2>/dev/null
  # And the steps they started, whose command lines need not name the folder.
  local e
  for e in /proc/[0-9]*/environ; do
    if { grep -qz "^JOBS_STATE_DIR=$work/" "$e"; } 2>/dev/null; then
      e=${e#/proc/}
      kill -KILL "${e%/environ}" 2>/dev/null
    fi
  done
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null
  done
  cd /
  if [ -n "${JOBS_FAULTS_KEEP:-}" ]; then
    echo "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

sql() { # database query
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
for row in db.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
}

# A field of `jobsctl status --json`, as a Python expression over s.
status_field() {
  "$jobsctl" status --json 2>/dev/null | python3 -c "import json, sys; s = json.load(sys.stdin); print($1)"
}
store_ok() { [ "$(status_field 's["store"]["ok"] and s["store"]["waiting"] == 0')" = True ]; }
store_failing() { [ "$(status_field 's["store"]["ok"]')" = False ]; }

# Executions of a job as jobsd shows them (history through the daemon): "id|status|trigger".
executions() { # job [limit]
  "$jobsctl" history "$1" --limit "${2:-0}" --json |
    python3 -c 'import json, sys
for e in json.load(sys.stdin):
    print("%s|%s|%s|%s" % (e["execution_id"], e["status"], e.get("trigger"), e.get("start_time")))'
}
count_executions() { executions "$@" | grep -c .; }
at_least_executions() { [ "$(count_executions "$1")" -ge "$2" ]; }

execution_id_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["execution_id"])'; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Every second fire of `job` from its first to its last is in the fires table once, and each has
# one execution: "ok", or what is wrong.
contiguous_fires() { # database job
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
# One read transaction: both lists from the same state of the store, while tick goes on firing.
db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
db.execute("BEGIN")
fires = [r[0] for r in db.execute(
    "SELECT scheduled_ms FROM fires WHERE job_id = ? ORDER BY 1", (sys.argv[2],))]
runs = [r[0] for r in db.execute(
    "SELECT scheduled_ms FROM job_executions WHERE job_id = ? ORDER BY 1", (sys.argv[2],))]
problems = []
if len(fires) < 2:
    problems.append("only %d fires" % len(fires))
else:
    gaps = [(a, b) for a, b in zip(fires, fires[1:]) if b - a != 1000]
    if gaps:
        problems.append("fires not one a second: %s" % gaps[:3])
if sorted(set(runs)) != runs:
    problems.append("a fire ran twice")
if runs != fires:
    problems.append("%d fires, %d executions" % (len(fires), len(runs)))
print("; ".join(problems) or "ok")
PY
}

# =================================================================================================
# 1. Out of space: the state folder and the logs on a tiny file system, filled, then grown.
# =================================================================================================
part1() {
  local p=$work/p1
  mkdir -p "$p/jobs" "$p/disk"
  if ! mount -t tmpfs -o size=2m,mode=0755 tmpfs "$p/disk"; then
    echo "skip out of space: cannot mount a tmpfs"
    return
  fi
  mounts+=("$p/disk")
  export JOBS_STATE_DIR=$p/disk/state
  local db=$JOBS_STATE_DIR/history.db log=$JOBS_STATE_DIR/logs/jobsd.log
  # Four jobs every second: their executions fill jobsd.log's last page quickly once the disk is
  # full, so that losing its lines is certain too.
  for n in 1 2 3 4; do
    printf 'schedule: "* * * * * *"\nconcurrency: allow\ncommand: echo tick\n' >"$p/jobs/tick$n.yaml"
  done
  printf 'command: echo manual\n' >"$p/jobs/manual.yaml"
  "$jobsd" --jobs-dir "$p/jobs" --state-dir "$JOBS_STATE_DIR"
  expect "disk: jobsd starts on the tiny file system" "0" "$?"
  wait_for 10 at_least_executions tick1 2

  local acked
  acked=$("$jobsctl" trigger manual --wait --json | execution_id_of)
  expect "disk: trigger --wait before the fault exits 0" "0" "$?"

  # Fill the disk (dd ends with "No space left on device").
  dd if=/dev/zero of="$p/disk/filler" bs=64k 2>/dev/null
  expect "disk: the file system is full" "0" "$(df --output=avail -k "$p/disk" | tail -1 | tr -d ' ')"
  local fill_ms
  fill_ms=$(now_ms)
  wait_for 15 store_failing
  expect "disk: status --json shows the store failing" "0" "$?"
  expect "disk: and why" "1" \
    "$(status_field 's["store"]["fault"]' | grep -c "^history store $db: cannot .*: database or disk is full$")"
  has_lost_log_lines() { [ "$(status_field 's["log"]["lost_lines"]')" -gt 0 ]; }
  wait_for 15 has_lost_log_lines
  expect "disk: status --json counts the lines jobsd.log lost" "0" "$?"
  local out
  out=$("$jobsctl" status)
  expect "disk: status says the store is failing, and why" "1" \
    "$(grep -c "^store: FAILING since [0-9A-Z: +-]*: history store $db: cannot .*: database or disk is full$" <<<"$out")"
  expect "disk: and what waits" "1" \
    "$(grep -cE "^       [0-9]+ writes? waiting in memory, [0-9]+ made late, 0 lost since jobsd started$" <<<"$out")"
  expect "disk: status says jobsd.log is failing" "1" \
    "$(grep -cE "^log:   FAILING since [0-9A-Z: +-]+: [0-9]+ lines? of jobsd.log lost: .*[Nn]o space left on device" <<<"$out")"

  # The jobs keep firing; a trigger runs and says how it went; history shows both.
  local during
  out=$("$jobsctl" trigger manual --wait --json)
  expect "disk: trigger --wait during the fault exits 0 (the job succeeded)" "0" "$?"
  during=$(execution_id_of <<<"$out")
  expect "disk: its reply is the execution's record" "success" \
    "$(python3 -c 'import json, sys; print(json.load(sys.stdin).get("status"))' <<<"$out")"
  ticks_after_fill() {
    local n
    n=$("$jobsctl" history tick1 --limit 0 --json | python3 -c "
import json, sys, datetime
print(sum(1 for e in json.load(sys.stdin)
          if datetime.datetime.fromisoformat(e['start_time'].replace('Z', '+00:00')).timestamp() * 1000 > $fill_ms))")
    [ "$n" -ge 3 ]
  }
  wait_for 15 ticks_after_fill
  expect "disk: the jobs keep firing while the disk is full" "0" "$?"
  expect "disk: history shows the execution triggered during the fault" "1" \
    "$(executions manual | grep -c "^$during|success|")"
  expect "disk: and the one acknowledged before it" "1" "$(executions manual | grep -c "^$acked|success|")"
  expect "disk: the rows that wait are not in the file yet" "0" \
    "$(sql "$db" "SELECT count(*) FROM job_executions WHERE execution_id = '$during'")"

  # Space again: everything is written without a restart. The file system grows (an operator
  # extends the volume) rather than losing the filler: the 1-1.4 MB the filler holds does not
  # last. jobsd's WAL grows to 4 MB (SQLite checkpoints at 1000 pages, then reuses the file),
  # some 200 KB a second here, so it filled that space again 3-6 s after the store recovered and
  # the checks below raced it. 30 MB more holds that WAL and what four executions a second add
  # besides (some 25 KB: logs, rows) for longer than the test may run.
  mount -o remount,size=32m "$p/disk"
  expect "disk: the file system grows" "0" "$?"
  local pid
  pid=$(cat "$JOBS_STATE_DIR/jobsd.lock")
  wait_for 20 store_ok
  expect "disk: once space is back, the store works again (status)" "0" "$?"
  expect "disk: the same daemon" "$pid" "$(status_field 's["pid"]')"
  expect "disk: the execution triggered during the fault is in the file" "success|manual" \
    "$(sql "$db" "SELECT status, trigger_kind FROM job_executions WHERE execution_id = '$during'")"
  expect "disk: and the acknowledged one still is" "success" \
    "$(sql "$db" "SELECT status FROM job_executions WHERE execution_id = '$acked'")"
  local n
  for n in 1 4; do
    expect "disk: every fire of tick$n, before, during and after the fault, recorded once" "ok" \
      "$(contiguous_fires "$db" "tick$n")"
  done
  expect "disk: no write was lost" "0" "$(status_field 's["store"]["lost"]')"
  wait_for 10 grep -q "history store $db works again: " "$log"
  expect "disk: jobsd.log says the store works again" "1" \
    "$(grep -c "info history store $db works again: [0-9]* writes that waited in memory made, after " "$log")"
  expect "disk: jobsd.log says how many of its lines were lost, from when" "1" \
    "$(grep -c "warning jobsd.log: [0-9]* lines\? could not be written from [0-9T:-]*Z on: " "$log")"
  expect "disk: status --json shows jobsd.log fine again" "True" "$(status_field 's["log"]["ok"]')"
  out=$("$jobsctl" status)
  expect "disk: status says the store works, and how many writes were late" "1" \
    "$(grep -cE "^store: working; since jobsd started (1 write was|[0-9]+ writes were) made late, 0 lost$" <<<"$out")"
  expect "disk: and no more that jobsd.log fails" "0" "$(grep -c "^log:" <<<"$out")"
  # Writes go on as before: a trigger after the fault is in the file at once.
  local after
  after=$("$jobsctl" trigger manual --wait --json | execution_id_of)
  expect "disk: a trigger after the fault is written at once" "success" \
    "$(sql "$db" "SELECT status FROM job_executions WHERE execution_id = '$after'")"
  stop_daemon "$JOBS_STATE_DIR"
}

# =================================================================================================
# 2. history.db locked by another process for several seconds.
# =================================================================================================
part2() {
  local p=$work/p2
  mkdir -p "$p/jobs"
  export JOBS_STATE_DIR=$p/state
  local db=$JOBS_STATE_DIR/history.db log=$JOBS_STATE_DIR/logs/jobsd.log
  printf 'schedule: "* * * * * *"\nconcurrency: allow\ncommand: echo tick\n' >"$p/jobs/tick.yaml"
  printf 'command: echo manual\n' >"$p/jobs/manual.yaml"
  "$jobsd" --jobs-dir "$p/jobs" --state-dir "$JOBS_STATE_DIR"
  expect "lock: jobsd starts" "0" "$?"
  wait_for 10 at_least_executions tick 2
  local acked
  acked=$("$jobsctl" trigger manual --wait --json | execution_id_of)

  # Another process takes the write lock and keeps it until told (at most 60 s).
  hold_store_lock "$db" "$p/locked" "$p/release"
  wait_for 10 test -e "$p/locked"
  local lock_ms
  lock_ms=$(now_ms)
  wait_for 10 store_failing
  expect "lock: status --json shows the store failing" "0" "$?"
  expect "lock: and why" "1" \
    "$(status_field 's["store"]["fault"]' | grep -c "^history store $db: cannot .*: the store is locked by another process (waited 1000 ms)$")"

  # Reads answer at once; a trigger runs at once and says how it went. A read that waited for
  # the lock would take its 1000 ms busy timeout every time; one slow answer of 15 is the machine.
  local slow=0 slowest=0 t0 t1 i verb
  for i in 1 2 3 4 5; do
    for verb in "history --limit 5" status list; do
      t0=$(now_ms)
      # shellcheck disable=SC2086
      "$jobsctl" $verb >/dev/null
      t1=$(now_ms)
      [ $((t1 - t0)) -ge 1000 ] && slow=$((slow + 1))
      [ $((t1 - t0)) -gt "$slowest" ] && slowest=$((t1 - t0))
    done
  done
  expect "lock: history, status and list each answer within a second while the store is locked" \
    "yes" "$([ "$slow" -le 1 ] && echo yes || echo "no: $slow of 15 took a second or more, the slowest ${slowest} ms")"
  local during out
  t0=$(now_ms)
  out=$("$jobsctl" trigger manual --wait --json)
  expect "lock: trigger --wait during the lock exits 0" "0" "$?"
  t1=$(now_ms)
  expect "lock: and does not wait for the lock" "yes" \
    "$([ $((t1 - t0)) -lt 3000 ] && echo yes || echo "no: $((t1 - t0)) ms")"
  during=$(execution_id_of <<<"$out")
  expect "lock: history shows it while the lock is held" "1" \
    "$(executions manual | grep -c "^$during|success|")"
  ticks_after_lock() {
    local n
    n=$("$jobsctl" history tick --limit 0 --json | python3 -c "
import json, sys, datetime
print(sum(1 for e in json.load(sys.stdin)
          if datetime.datetime.fromisoformat(e['start_time'].replace('Z', '+00:00')).timestamp() * 1000 > $lock_ms))")
    [ "$n" -ge 3 ]
  }
  wait_for 15 ticks_after_lock
  expect "lock: the jobs keep firing while the store is locked" "0" "$?"
  expect "lock: nothing of it is in the file yet" "0" \
    "$(sql "$db" "SELECT count(*) FROM job_executions WHERE execution_id = '$during'")"

  touch "$p/release"
  wait "$locker_pid"
  locker_pid=
  wait_for 15 store_ok
  expect "lock: once released, the store works again" "0" "$?"
  expect "lock: the execution triggered during the lock is in the file" "success|manual" \
    "$(sql "$db" "SELECT status, trigger_kind FROM job_executions WHERE execution_id = '$during'")"
  expect "lock: and the one acknowledged before it" "success" \
    "$(sql "$db" "SELECT status FROM job_executions WHERE execution_id = '$acked'")"
  expect "lock: every fire of tick recorded once, none lost or run twice" "ok" \
    "$(contiguous_fires "$db" tick)"
  expect "lock: no write was lost" "0" "$(status_field 's["store"]["lost"]')"
  expect "lock: jobsd.log says the store failed, once" "1" \
    "$(grep -c "error history store $db: cannot .*: the store is locked by another process (waited 1000 ms); its writes wait in memory until it works again" "$log")"
  wait_for 10 grep -q "history store $db works again: " "$log"
  expect "lock: and that it works again, once" "1" "$(grep -c "info history store $db works again: " "$log")"
  expect "lock: no fire was refused as run already" "0" "$(grep -c 'ran already' "$log")"
  stop_daemon "$JOBS_STATE_DIR"
}

# =================================================================================================
# 3. Wall-clock jumps: libfaketime shifts jobsd's CLOCK_REALTIME (and its timerfd's absolute
#    times) by the offset in a file read at every call; the monotonic and boot-time clocks stay
#    real, as they do when an administrator or NTP sets the clock.
# =================================================================================================
part3() {
  local faketime
  faketime=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
  if [ -z "$faketime" ]; then
    echo "skip wall-clock jumps: libfaketime is not installed (Debian package libfaketime)"
    return
  fi
  local p=$work/p3
  mkdir -p "$p/jobs"
  export JOBS_STATE_DIR=$p/state
  local db=$JOBS_STATE_DIR/history.db log=$JOBS_STATE_DIR/logs/jobsd.log
  # Written whole (libfaketime reads the file at every clock call).
  set_offset() {
    echo "$1" >"$p/offset.new" && mv "$p/offset.new" "$p/offset"
  }
  set_offset +0
  # Fixed times inside the hour the clock will skip (UTC, whole minutes from now).
  local base=$(($(date +%s) / 60 * 60))
  cron_at() { date -u -d "@$1" '+%-M %-H * * *'; }
  local at20=$((base + 20 * 60)) at30=$((base + 30 * 60)) at40=$((base + 40 * 60))
  cat >"$p/jobs/every2.yaml" <<'YAML'
schedule: "*/2 * * * * *"
concurrency: allow
command: "true"
YAML
  printf 'schedule: "%s"\ncommand: "true"\n' "$(cron_at $at30)" >"$p/jobs/fixed.yaml"
  printf 'schedule: { cron: ["%s", "%s"], missed: all }\nconcurrency: allow\ncommand: "true"\n' \
    "$(cron_at $at20)" "$(cron_at $at40)" >"$p/jobs/fixed-all.yaml"
  printf 'schedule: { cron: "%s", max_lateness: 10m }\ncommand: "true"\n' "$(cron_at $at20)" \
    >"$p/jobs/fixed-late.yaml"
  printf 'schedule: "* * * * *"\nconcurrency: allow\ncommand: "true"\n' >"$p/jobs/minutely.yaml"

  # A sanitized jobsd wants its ASan runtime first of all libraries; preloading it too would put
  # it into every step's shell as well, where it deadlocks with libfaketime.
  local asan_options=${ASAN_OPTIONS:-}
  # (Not `ldd | grep -q`: with pipefail, grep's early exit fails ldd with SIGPIPE.)
  [[ $(ldd "$jobsd" 2>/dev/null) == *libasan* ]] && asan_options+=${asan_options:+:}verify_asan_link_order=0
  ASAN_OPTIONS=$asan_options LD_PRELOAD=$faketime FAKETIME_TIMESTAMP_FILE=$p/offset \
    FAKETIME_NO_CACHE=1 DONT_FAKE_MONOTONIC=1 NO_FAKE_STAT=1 \
    "$jobsd" --jobs-dir "$p/jobs" --state-dir "$JOBS_STATE_DIR"
  local started=$?
  expect "clock: jobsd starts under libfaketime" "0" "$started"
  [ "$started" = 0 ] || return
  wait_for 10 at_least_executions every2 2

  # Forward by an hour.
  local jump_ms
  jump_ms=$(now_ms)
  set_offset +3600
  wait_for 10 grep -q "the wall clock jumped forward" "$log"
  local seen_ms
  seen_ms=$(now_ms)
  expect "clock: jobsd.log: the jump forward, once" "1" \
    "$(grep -c 'warning the wall clock jumped forward by 1h$' "$log")"
  has_catchups() { [ "$(count_executions fixed-all)" -ge 2 ] && [ "$(count_executions fixed)" -ge 1 ]; }
  wait_for 10 has_catchups
  local iso30 iso20 iso40
  iso20=$(date -u -d "@$at20" +%Y-%m-%dT%H:%M:%SZ)
  iso30=$(date -u -d "@$at30" +%Y-%m-%dT%H:%M:%SZ)
  iso40=$(date -u -d "@$at40" +%Y-%m-%dT%H:%M:%SZ)
  expect "clock: a fixed-time fire in the skipped hour runs once, as a catch-up" \
    "catchup|${at30}000" "$(sql "$db" "SELECT trigger_kind, scheduled_ms FROM job_executions WHERE job_id = 'fixed'")"
  expect "clock: missed: all runs each fixed-time fire of the hour once" \
    "catchup|${at20}000 catchup|${at40}000" \
    "$(sql "$db" "SELECT trigger_kind, scheduled_ms FROM job_executions WHERE job_id = 'fixed-all' ORDER BY 2" | xargs)"
  expect "clock: one past max_lateness does not run" "0" "$(count_executions fixed-late)"
  # 40 whole minutes late, or 41 if jobsd saw the jump in the minute after the test began.
  local skipped late_minutes
  skipped=$(sql "$db" "SELECT scheduled_ms, reason FROM fires WHERE job_id = 'fixed-late'")
  expect "clock: and is recorded as skipped, saying why" \
    "${at20}000|missed when the clock jumped forward: N late, more than max_lateness 10m" \
    "$(sed -E 's/: [0-9]+m([0-9]+s)? late/: N late/' <<<"$skipped")"
  late_minutes=$(sed -E 's/.*: ([0-9]+)m([0-9]+s)? late.*/\1/' <<<"$skipped")
  expect "clock: as late as the jump made it" "yes" \
    "$([ "$late_minutes" -ge $(((jump_ms / 1000 + 3600 - at20) / 60)) ] &&
      [ "$late_minutes" -le $(((seen_ms / 1000 + 3600 - at20) / 60)) ] && echo yes || echo "no: ${late_minutes}m")"
  expect "clock: jobsd.log says what was caught up" "1" \
    "$(grep -c "warning job fixed: 1 fire missed when the clock jumped forward ($iso30); running the latest once (missed: once)" "$log")"
  expect "clock: and for missed: all" "1" \
    "$(grep -c "warning job fixed-all: 2 fires missed when the clock jumped forward ($iso20 to $iso40); running 2 (missed: all)" "$log")"
  # Interval schedules go on in real time: none of the hour's 1800 fires is caught up (the
  # daemon sees the jump within a second or two; a few fires before or after it are normal).
  expect "clock: interval schedules do not burst: no fire of the skipped hour runs" "0" \
    "$(sql "$db" "SELECT count(*) FROM fires WHERE job_id IN ('every2', 'minutely') AND scheduled_ms > $jump_ms + 5000 AND scheduled_ms < $jump_ms + 3600000 - 5000")"
  expect "clock: no catch-up for them either" "0" \
    "$(sql "$db" "SELECT count(*) FROM job_executions WHERE job_id IN ('every2', 'minutely') AND trigger_kind = 'catchup'")"
  expect "clock: jobsd.log says they were not caught up" "1" \
    "$(grep -c 'warning job every2: more than 1000 fires passed when the clock jumped forward; not caught up' "$log")"
  expect "clock: every minute of the hour, for minutely" "1" \
    "$(grep -c 'warning job minutely: 60 fires passed when the clock jumped forward; not caught up' "$log")"
  expect "clock: the uptime does not jump with the clock" "yes" \
    "$([ "$(status_field 's["uptime_seconds"]')" -lt 600 ] && echo yes || echo no)"
  wait_for 10 at_least_executions every2 $(($(count_executions every2) + 2))
  expect "clock: every2 goes on after the jump" "0" "$?"

  # Back by the hour: what was handled (run, or passed over by the jump) does not run again.
  set_offset +0
  wait_for 10 grep -q "the wall clock went back" "$log"
  # Taken once jobsd saw the jump back (nothing is due again for an hour), in one query, so that
  # no fire lands between the two figures.
  local handled_ms handled
  IFS='|' read -r handled_ms handled < <(sql "$db" "SELECT m, (SELECT count(*) FROM fires WHERE scheduled_ms <= m) FROM (SELECT max(scheduled_ms) AS m FROM fires WHERE job_id = 'every2')")
  expect "clock: jobsd.log: the jump back, once" "1" \
    "$(grep -c 'warning the wall clock went back by 1h; fires already handled do not run again$' "$log")"
  # A one-off a few seconds from now (real time again) marks how long to watch.
  local marker_at
  marker_at=$(date -u -d "@$(($(date +%s) + 10))" +%Y-%m-%dT%H:%M:%SZ)
  printf 'schedule: { at: "%s" }\ncommand: "true"\n' "$marker_at" >"$p/jobs/marker.yaml"
  wait_for 20 at_least_executions marker 1
  expect "clock: after the jump back, new fires still come (a one-off)" "0" "$?"
  expect "clock: no fire of every2 ran twice" "0" \
    "$(sql "$db" "SELECT count(*) - count(DISTINCT scheduled_ms) FROM job_executions WHERE job_id = 'every2'")"
  expect "clock: no job handles again an instant at or before what every2 had handled" \
    "$handled" "$(sql "$db" "SELECT count(*) FROM fires WHERE scheduled_ms <= $handled_ms AND job_id <> 'marker'")"
  expect "clock: the fixed-time jobs did not run again" "1 2" \
    "$(count_executions fixed) $(count_executions fixed-all)"
  expect "clock: no fire was refused by the store as run already" "0" "$(grep -c 'ran already' "$log")"

  # Forward by more than 3 hours: nothing is caught up, as in cronie.
  local at2h=$(($(date +%s) / 60 * 60 + 2 * 3600))
  printf 'schedule: "%s"\ncommand: "true"\n' "$(cron_at $at2h)" >"$p/jobs/far.yaml"
  has_far() { "$jobsctl" list 2>/dev/null | grep '^far' >/dev/null; }
  wait_for 10 has_far
  set_offset +14400
  wait_for 10 grep -q "jumped forward by 4h" "$log"
  wait_for 10 grep -q "job far: " "$log"
  expect "clock: a jump of 4h catches up no fixed-time fire" "0" "$(count_executions far)"
  expect "clock: and says so" "1" \
    "$(grep -c 'warning job far: 1 fire passed when the clock jumped forward; not caught up' "$log")"
  stop_daemon "$JOBS_STATE_DIR"
}

# =================================================================================================
# 4. A time zone's file deleted or broken under a running jobsd (a copy of /usr/share/zoneinfo
#    bind-mounted over it, in this script's mount namespace only).
# =================================================================================================
part4() {
  local p=$work/p4
  mkdir -p "$p/jobs" "$p/zoneinfo"
  cp -a /usr/share/zoneinfo/. "$p/zoneinfo/"
  if ! mount --bind "$p/zoneinfo" /usr/share/zoneinfo; then
    echo "skip vanished time zones: cannot bind-mount over /usr/share/zoneinfo"
    return
  fi
  mounts+=(/usr/share/zoneinfo)
  export JOBS_STATE_DIR=$p/state
  local log=$JOBS_STATE_DIR/logs/jobsd.log
  local zone name
  for zone in Europe/Berlin Asia/Tokyo Pacific/Auckland; do
    name=$(basename "$zone" | tr A-Z a-z)
    printf 'timezone: %s\nschedule: "* * * * * *"\nconcurrency: allow\ncommand: "true"\n' "$zone" \
      >"$p/jobs/$name.yaml"
  done
  "$jobsd" --jobs-dir "$p/jobs" --state-dir "$JOBS_STATE_DIR"
  expect "zones: jobsd starts with jobs in three zones" "0" "$?"
  wait_for 10 at_least_executions auckland 1
  local pid
  pid=$(cat "$JOBS_STATE_DIR/jobsd.lock")

  # The errors of the job files as status --json has them, first lines (status without --json
  # shows times in each queue's zone, which would read the zone files in jobsctl itself).
  file_errors() {
    status_field '"\n".join(e["text"].split("\n")[0] for e in s["reload"]["errors"])'
  }
  has_zone_error() { file_errors | grep -- "$1" >/dev/null; }

  # Pacific/Auckland's file disappears; a reload (SIGHUP) finds it.
  rm "$p/zoneinfo/Pacific/Auckland"
  kill -HUP "$pid"
  wait_for 10 has_zone_error "auckland.yaml:"
  local auckland_error="^$p/jobs/auckland.yaml:1:11: error: \"timezone\": time zone \"Pacific/Auckland\": /usr/share/zoneinfo/Pacific/Auckland cannot be read: No such file or directory; jobsd keeps the rules it read before"
  expect "zones: status shows the job's zone error with its place" "1" \
    "$("$jobsctl" status | grep -c "$auckland_error")"
  expect "zones: status says the file keeps running its last good version" "1" \
    "$("$jobsctl" status | grep -c "keep running their last good version: $p/jobs/auckland.yaml")"
  expect "zones: jobsd.log says so with the place" "1" \
    "$(grep -c "error $p/jobs/auckland.yaml:1:11: error: \"timezone\": time zone \"Pacific/Auckland\": " "$log")"
  expect "zones: list marks the job stale" "1" "$("$jobsctl" list 2>/dev/null | grep -c '^auckland (stale)')"
  local before_a before_b
  before_a=$(count_executions auckland)
  before_b=$(count_executions berlin)
  wait_for 10 at_least_executions auckland $((before_a + 2))
  expect "zones: the job in the vanished zone keeps firing on the rules read before" "0" "$?"
  wait_for 10 at_least_executions berlin $((before_b + 2))
  expect "zones: the other jobs keep firing" "0" "$?"
  expect "zones: validate (a fresh process) refuses the job with its place" "1" \
    "$("$jobsctl" validate "$p/jobs" 2>&1 | grep -c "auckland.yaml:1:11: error: \"timezone\": unknown time zone \"Pacific/Auckland\"")"
  "$jobsctl" validate "$p/jobs" >/dev/null 2>&1
  expect "zones: validate exits 2" "2" "$?"

  # Job-file edits: the edited Berlin job is read again; the Auckland one stays in error.
  printf 'timezone: Europe/Berlin\nschedule: "*/2 * * * * *"\nconcurrency: allow\ncommand: "true"\n' \
    >"$p/jobs/.berlin.yaml.tmp"
  mv "$p/jobs/.berlin.yaml.tmp" "$p/jobs/berlin.yaml"
  echo "# edited" >>"$p/jobs/auckland.yaml"
  berlin_edited() { "$jobsctl" list --json | grep '"\*/2 \* \* \* \* \*"' >/dev/null; }
  wait_for 10 berlin_edited
  expect "zones: an edit of another job is applied" "0" "$?"
  expect "zones: the edited file in the vanished zone is still reported" "1" \
    "$(file_errors | grep -c "$auckland_error")"
  before_a=$(count_executions auckland)
  wait_for 10 at_least_executions auckland $((before_a + 1))
  expect "zones: and still runs its last good version" "0" "$?"

  # A zone in use whose file is broken (not TZif any more): the same.
  printf 'garbage' >"$p/zoneinfo/Asia/Tokyo"
  kill -HUP "$pid"
  wait_for 10 has_zone_error "tokyo.yaml:"
  expect "zones: a broken file of a zone in use is reported with its place" "1" \
    "$(file_errors | grep -c "^$p/jobs/tokyo.yaml:1:11: error: \"timezone\": time zone \"Asia/Tokyo\": /usr/share/zoneinfo/Asia/Tokyo is not a tz database file")"
  local before_t
  before_t=$(count_executions tokyo)
  wait_for 10 at_least_executions tokyo $((before_t + 1))
  expect "zones: and its job keeps running" "0" "$?"

  # A new job in a zone whose file vanished before any job used it.
  rm "$p/zoneinfo/America/Denver"
  printf 'timezone: America/Denver\nschedule: "* * * * * *"\ncommand: "true"\n' >"$p/jobs/denver.yaml"
  wait_for 10 has_zone_error "denver.yaml:"
  expect "zones: a new job in a vanished zone: jobsd lives on" "$pid" "$(status_field 's["pid"]')"
  expect "zones: and reports the file with its place, naming the zone" "1" \
    "$(file_errors | grep -c "^$p/jobs/denver.yaml:[0-9]*:[0-9]*: error: .*America/Denver")"
  expect "zones: that job does not run" "0" "$(count_executions denver)"
  rm "$p/jobs/denver.yaml"

  # A new job in a zone whose file was broken before any job used it.
  printf 'garbage' >"$p/zoneinfo/America/Chicago"
  printf 'timezone: America/Chicago\nschedule: "* * * * * *"\ncommand: "true"\n' >"$p/jobs/chicago.yaml"
  local v
  "$jobsctl" validate "$p/jobs/chicago.yaml" >"$p/validate.out" 2>&1
  v=$?
  expect "zones: validate of a job in a broken zone exits 2 (no crash)" "2" "$v"
  expect "zones: and names the file's place" "1" \
    "$(grep -c "chicago.yaml:[0-9]*:[0-9]*: error: .*America/Chicago" "$p/validate.out")"
  chicago_settled() { ! kill -0 "$pid" 2>/dev/null || has_zone_error "chicago.yaml:"; }
  wait_for 10 chicago_settled
  expect "zones: a new job in a broken zone: jobsd lives on" "$pid" "$(status_field 's["pid"]' 2>/dev/null)"
  expect "zones: and reports the file with its place" "1" \
    "$(file_errors 2>/dev/null | grep -c "^$p/jobs/chicago.yaml:[0-9]*:[0-9]*: error: .*America/Chicago")"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "  (jobsd is gone; its last words:)"
    tail -3 "$log" | sed 's/^/  /'
  fi
  stop_daemon "$JOBS_STATE_DIR"
  umount /usr/share/zoneinfo && unset 'mounts[-1]'
}

timed() {
  local t0
  t0=$(date +%s)
  "$@"
  echo "($1: $(($(date +%s) - t0))s)"
}
parts=${JOBS_FAULTS_PARTS:-1234}
run_part() { [[ $parts == *$1* ]]; }
if ! run_part 1; then
  :
elif $private_mounts; then
  timed part1
else
  echo "skip out of space: needs root and a private mount namespace (unshare -m)"
fi
run_part 2 && timed part2
run_part 3 && timed part3
if ! run_part 4; then
  :
elif $private_mounts; then
  timed part4
else
  echo "skip vanished time zones: needs root and a private mount namespace (unshare -m)"
fi
echo "took $(($(date +%s) - started_at))s"
finish
