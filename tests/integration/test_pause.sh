#!/usr/bin/env bash
# jobsctl pause and resume, end to end: a paused job's fires are recorded skipped with the
# reason, the pause survives a restart of jobsd, resume lets the job fire again, --until resumes
# by itself; list and status show it, every pause and resume is audited, only admins may.
#
#   test_pause.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work pause
# The times jobsctl prints in this machine's zone: UTC here, whatever the host's.
export TZ=UTC
mkdir jobs
cat > jobs/tick.yaml <<'YAML'
schedule: "* * * * * *"
command: "true"
YAML
cat > jobs/nightly.yaml <<'YAML'
schedule: "0 3 * * *"
timezone: UTC
command: "true"
YAML
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
grace_period: 2s
access:
  socket_group: nogroup
  readers: all
YAML
start_daemon() { "$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state"; }

sql() {
  python3 - "$state/history.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
for row in db.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
}
now_ms() { echo $((${EPOCHREALTIME//[!0-9]/} / 1000)); }
# at_least N SQL: whether the count SQL gives is N or more.
at_least() { [ "$(sql "$2")" -ge "$1" ]; }
# The NEXT column of JOB in jobsctl list (tab-separated when not on a terminal).
next_of() { "$jobsctl" list "${@:2}" | awk -F'\t' -v job="$1" '$1 == job { print $6 }'; }
# The row of JOB in the PAUSED table of jobsctl status (its BY and REASON), or its JOB column.
paused_row() { "$jobsctl" status | awk -F'\t' -v job="$1" '$1 ~ "^" job && NF == 5 { print '"$2"' }'; }
# The newest audit row, and the last line of audit.log without its time and the client's pid.
audit_row() { sql "select user_name, action, target, outcome from audit order by id desc limit 1"; }
last_audit() { tail -1 "$state/logs/audit.log" | sed -E 's/^[^ ]+ //; s/ pid=[0-9]+ / pid=P /'; }
me=$(id -un)

start_daemon
expect "jobsd starts" "0" "$?"
wait_for 10 at_least 1 "select count(*) from job_executions where job_id = 'tick' and status = 'success'"
expect "the job fires every second" "0" "$?"

# 1. Pause: its fires are recorded skipped with the reason, none runs.
out=$("$jobsctl" pause tick --reason "disk full" 2>&1)
expect "pause says so" "0 tick: paused by $me since" "$? $(cut -c1-26 <<<"$out")"
since=$(sql "select since_ms from job_pauses where job_id = 'tick'")
expect "the pause is in the store" "$me|disk full|" \
  "$(sql "select paused_by, reason, until_ms from job_pauses where job_id = 'tick'")"
skipped="select count(*) from fires where job_id = 'tick' and status = 'skipped' and reason = 'paused by $me: disk full'"
wait_for 10 at_least 2 "$skipped"
expect "its fires are recorded skipped with the reason" "0" "$?"
expect "no fire after the pause runs" "0" \
  "$(sql "select count(*) from job_executions where job_id = 'tick' and scheduled_ms > $since")"
history=$("$jobsctl" history tick --status skipped --json)
expect "history --status skipped shows the reason" "paused by $me: disk full" \
  "$(python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["error_message"])' <<<"$history")"
expect "the pause is audited" "$me|pause|tick|ok" "$(audit_row)"
expect "the pause is in audit.log" \
  "user=$me uid=$(id -u) pid=P action=pause target=\"tick\" outcome=ok args={\"job\":\"tick\",\"reason\":\"disk full\"}" \
  "$(last_audit)"

# 2. list and status show it, as tables and as JSON.
expect "list shows the job paused" "paused" "$(next_of tick)"
expect "list --json has the pause" "$me disk full None" "$("$jobsctl" list --json | python3 -c '
import json, sys
p = [j for j in json.load(sys.stdin) if j["id"] == "tick"][0]["paused"]
print(p["user"], p["reason"], p["until"])')"
expect "list without jobsd reads the pause from the store" "paused" \
  "$(next_of tick --jobs-dir "$work/jobs" --socket "$work/none.sock")"
expect "status lists the paused jobs" "tick $me disk full" "$(paused_row tick '$1, $4, $5')"
expect "status --json lists them" "tick True None" "$("$jobsctl" status --json | python3 -c '
import json, sys
p = json.load(sys.stdin)["paused"][0]
print(p["job"], p["exists"], p["until"])')"

# 3. A manual trigger of a paused job runs, with a note.
out=$("$jobsctl" trigger tick --wait 2>&1)
code=$?
note=$(grep -c "^jobsctl: note: job tick is paused (by $me since .*: disk full); this run was asked for and goes ahead, its fires stay skipped$" <<<"$out")
expect "a paused job triggered runs, with a note" "0 1 success" "$code $note $(tail -1 <<<"$out" | cut -d: -f1)"

# 4. Errors: an unknown job, a time that cannot be read or that has passed; only admins.
out=$("$jobsctl" pause tik 2>&1)
expect "pause of an unknown job: did you mean" \
  "2 jobsctl: no job \"tik\" in $work/jobs; did you mean \"tick\"?" "$? $out"
out=$("$jobsctl" pause nightly --until soon 2>&1)
expect "an --until that cannot be read" \
  "2 jobsctl: \"until\": invalid time \"soon\" (valid: 2026-12-01T09:00 (with Z or an offset, else in UTC), now, in 5m, 2h ago, 09:40 (the next one), today 18:00, tomorrow 03:00, yesterday (00:00), 2h (from now))" \
  "$? $out"
out=$("$jobsctl" pause nightly --until 2001-01-01T00:00Z 2>&1)
expect "an --until in the past" "2 jobsctl: \"until\": 2001-01-01T00:00:00Z is not in the future" \
  "$? ${out% (now*}"
out=$("$jobsctl" pause nightly --reason $'two\nlines' 2>&1)
expect "a reason of two lines" \
  '2 jobsctl: "reason" must be one line of UTF-8 without control characters, got "two\nlines"' "$? $out"
# What a terminal would act on in root's logs: ESC, a C1 CSI (U+009B), a right-to-left override.
for bad in $'esc\e[2J' $'csi\xc2\x9b31mX' $'rtl\xe2\x80\xaeX'; do
  "$jobsctl" pause nightly --reason "$bad" > /dev/null 2>&1
  code=$?
  expect "a reason with the bytes$(od -An -c <<< "${bad}" | tr -s ' ' | sed 's/ \\n$//') is refused" "2" "$code"
done
"$jobsctl" pause nightly --reason "$(printf 'x%.0s' {1..501})" > /dev/null 2>&1
expect "a reason over 500 bytes is refused" "2" "$?"
expect "and nothing was paused" "0" "$(sql "select count(*) from job_pauses where job_id = 'nightly'")"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$jobsctl" pause nightly 2>&1)
  expect "nobody may not pause" \
    "77 jobsctl: user nobody may not use mutating commands (pause): admins only" "$? $out"
  expect "the refusal is audited" \
    "nobody|pause|nightly|denied: user nobody may not use mutating commands (pause): admins only" \
    "$(audit_row)"
else
  echo "skip the check as another user (it needs root and setpriv)"
fi

# 5. A restart keeps the pause.
stop_daemon "$state"
restarted=$(now_ms)
start_daemon
expect "jobsd starts again" "0" "$?"
expect "list still shows the job paused" "paused" "$(next_of tick)"
wait_for 10 at_least 1 "$skipped and scheduled_ms > $restarted"
expect "after the restart, its fires are still skipped" "0" "$?"
expect "and none runs" "0" \
  "$(sql "select count(*) from job_executions where job_id = 'tick' and trigger_kind <> 'manual' and scheduled_ms > $since")"

# 6. Resume: it fires again.
out=$("$jobsctl" resume tick 2>&1)
expect "resume says so" "0 tick: resumed" "$? $out"
resumed=$(now_ms)
expect "resume is audited" "$me|resume|tick|ok" "$(audit_row)"
wait_for 10 at_least 1 "select count(*) from job_executions where job_id = 'tick' and scheduled_ms > $resumed"
expect "once resumed, the job fires again" "0" "$?"
expect "the store keeps no pause" "0" "$(sql "select count(*) from job_pauses")"
out=$("$jobsctl" resume tick 2>&1)
expect "resume of a job not paused" "0 tick: not paused" "$? $out"

# 7. --until: a duration, and a time with an offset; the pause ends by itself at that instant.
out=$("$jobsctl" pause tick --until 3s 2>&1)
expect "pause --until 3s" "0" "$?"
until=$(sql "select until_ms from job_pauses where job_id = 'tick'")
wait_for 10 at_least 1 "select count(*) from fires where job_id = 'tick' and status = 'skipped' and reason like 'paused by $me until %' and scheduled_ms < $until"
expect "until then, its fires are skipped" "0" "$?"
wait_for 15 at_least 1 "select count(*) from job_executions where job_id = 'tick' and scheduled_ms >= $until"
expect "from then on, it fires again by itself" "0" "$?"
expect "no fire from then on was skipped" "0" \
  "$(sql "select count(*) from fires where job_id = 'tick' and status = 'skipped' and scheduled_ms >= $until")"
expect "the ended pause leaves the store" "0" "$(sql "select count(*) from job_pauses")"
expect "jobsd.log says it ended" "1" \
  "$(grep -c "job tick: paused until .*: resumed" "$state/logs/jobsd.log")"
out=$("$jobsctl" pause nightly --until 2099-01-01T00:00+01:00 --reason freeze 2>&1)
expect "pause --until a time with an offset" \
  "0 nightly: paused by $me since " "$? ${out%%20*}"
expect "pause says until when" ", until 2098-12-31 23:00:00 UTC: freeze" "${out#* UTC}"
expect "list shows until when" "paused until 2098-12-31 23:00:00 UTC" "$(next_of nightly)"

# 8. The pause of a job whose file is deleted stays, shown in status, and can be resumed.
rm jobs/nightly.yaml
wait_for 10 eval '[ "$("$jobsctl" list --json | grep -c "\"nightly\"")" = 0 ]'
expect "the deleted job is gone from list" "0" "$?"
expect "status still lists its pause" "nightly (no job file)" "$(paused_row nightly '$1')"
out=$("$jobsctl" resume nightlyy 2>&1)
expect "a mistyped id gets the nearest, a pause's id too" \
  "2 jobsctl: no job \"nightlyy\" in $work/jobs and no pause of one; did you mean \"nightly\"?" "$? $out"
out=$("$jobsctl" resume nightly 2>&1)
expect "its pause can be resumed by its id" "0 nightly: resumed" "$? $out"

# 9. A pause's end is armed on the loop's timer: an idle jobsd with a paused job does not wake.
cat > jobs/quiet.yaml <<'YAML'
schedule: "0 3 * * *"
command: "true"
YAML
rm jobs/tick.yaml
wait_for 10 eval '[ "$(next_of tick)" = "" ] && [ -n "$(next_of quiet)" ]'
expect "only a quiet job is left" "0" "$?"
"$jobsctl" pause quiet --until 3h > /dev/null
pid=$(cat "$state/jobsd.lock")
switches() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$pid/task/$pid/status"; }
before=$(switches)
sleep 3 # a window to measure, not a wait for something
expect "the idle loop does not wake in 3 s" "$before" "$(switches)"

# 10. A pause that ends while jobsd is down has ended: list without jobsd does not show it.
"$jobsctl" pause quiet --until 2s > /dev/null
until=$(sql "select until_ms from job_pauses where job_id = 'quiet'")
expect "list shows the pause" "paused until" "$(next_of quiet | cut -c1-12)"
stop_daemon "$state"
expect "jobsd stops with the pause kept" "1" "$(sql "select count(*) from job_pauses")"
expect "with nothing running, the stop's log line says no wait" "info TERM: stopping" \
  "$(grep "TERM: stopping" "$state/logs/jobsd.log" | tail -n 1 | cut -d' ' -f2-)"
wait_for 10 eval '[ "$(now_ms)" -gt "$until" ]'
expect "list without jobsd, once the pause has ended: the next fire, not the pause" "03:00" \
  "$(next_of quiet --jobs-dir jobs | grep -o "03:00")"

# 11. A record without a zone (the JSON's null): history shows it in the host's zone.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE job_executions SET timezone = \x27\x27"); c.commit()' "$state/history.db"
"$jobsctl" history > history.out 2>&1
expect "history of records without a zone" "0 0" "$? $(grep -c "internal error" history.out)"

finish
