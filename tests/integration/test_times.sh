#!/usr/bin/env bash
# One time convention, through a real jobsd: every time a table or line shows carries its zone's
# abbreviation, in the job's zone where a job is in view (history, list, next, logs, status's
# running executions), else this machine's; --utc shows UTC on history, list, next, status and
# logs. Time arguments: schedule --at "in 5m" and 09:40 stored at the right instant, history
# --since yesterday and --until, errors that list the forms. logs -f of a job that runs nothing
# says on standard error what it waits for; next shows "in ..." by each fire; status how long
# each running execution has run.
#
#   test_times.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/daemon.sh"
new_work times
# This machine's zone: Tokyo (JST, +09:00); the jobs' zone: Kolkata (IST, +05:30). Neither has
# DST, so that the abbreviations and offsets checked are those of every day of the year.
export TZ=Asia/Tokyo
mkdir jobs
export JOBS_CONFIG="$work/jobsd.yaml" JOBS_DIR="$work/jobs"
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
YAML
# quick and slow fire once a year (not during the test), nightly every day at 09:00 Kolkata.
cat > jobs/quick.yaml <<'YAML'
schedule: "0 0 1 1 *"
timezone: Asia/Kolkata
command: "echo hello"
YAML
cat > jobs/slow.yaml <<'YAML'
schedule: "0 0 1 1 *"
timezone: Asia/Kolkata
command: "sleep 60"
YAML
cat > jobs/nightly.yaml <<'YAML'
schedule: "0 9 * * *"
timezone: Asia/Kolkata
command: "true"
YAML

"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state" \
  --log-dir "$state/logs"
expect "jobsd starts" "0" "$?"

# An ISO time (UTC) as jobsctl shows it in ZONE: "2026-12-07 15:00:00 IST" (python's zoneinfo).
shown_in() {
  python3 - "$1" "$2" <<'PY'
import datetime, sys, zoneinfo
t = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
print(t.astimezone(zoneinfo.ZoneInfo(sys.argv[2])).strftime("%Y-%m-%d %H:%M:%S %Z"))
PY
}
json() { python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
now() { date +%s; }
# matches NAME REGEX VALUE: a check that VALUE matches the extended regular expression REGEX.
matches() {
  if [[ $3 =~ $2 ]]; then
    expect "$1" "$3" "$3"
  else
    expect "$1" "a match of $2" "$3"
  fi
}

"$jobsctl" trigger quick --wait >/dev/null
expect "quick runs" "0" "$?"
start=$("$jobsctl" history quick --json | json 'j[0]["start_time"]')

# history: STARTED in the job's zone, or UTC with --utc.
started() { "$jobsctl" history quick "$@" | awk -F'\t' 'NR == 1 { print $4 }'; }
expect "history shows the job's zone" "$(shown_in "$start" Asia/Kolkata)" "$(started)"
expect "history --utc shows UTC" "$(shown_in "$start" UTC)" "$(started --utc)"

# list: NEXT in the job's zone with how far it is, or UTC with --utc.
next_of() { "$jobsctl" list "${@:2}" | awk -F'\t' -v job="$1" '$1 == job { print $6 }'; }
nightly_utc=$("$jobsctl" list --json | json '[x["next_utc"] for x in j if x["id"] == "nightly"][0]')
expect "list shows the job's zone and how far" \
  "$(shown_in "$nightly_utc" Asia/Kolkata) (in" "$(next_of nightly | cut -d'(' -f1)(in"
expect "list's NEXT is 09:00 Kolkata time" "09:00:00" "$(next_of nightly | cut -d' ' -f2)"
expect "list --utc shows UTC" "$(shown_in "$nightly_utc" UTC)" "$(next_of nightly --utc | cut -d' ' -f1-3)"

# next JOB: each fire with "in ..." (the last column), in the job's zone or UTC.
in_re='^in ([0-9]+[dhms]){1,2}$'
row=$("$jobsctl" next nightly -n 1)
matches "next shows how far each fire is" "$in_re" "$(cut -f4 <<<"$row")"
expect "next shows the job's zone" "09:00:00 +05:30 IST" "$(cut -f1 <<<"$row" | cut -d' ' -f3-)"
row=$("$jobsctl" next nightly -n 1 --utc)
expect "next --utc shows UTC" "03:30:00 +00:00 UTC" "$(cut -f1 <<<"$row" | cut -d' ' -f3-)"

# logs: each line's time in the job's zone, or UTC with --utc; --raw as the log has it.
# (one word, ISO 8601 with the offset, so that scripts can still cut it off).
first_stamp() {
  local log
  log=$("$jobsctl" logs quick "$@")
  head -1 <<<"$log" | cut -d' ' -f1
}
stamp_re() { echo "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}$1\$"; }
matches "logs shows the job's zone" "$(stamp_re '\+05:30')" "$(first_stamp)"
matches "logs --utc shows UTC" "$(stamp_re Z)" "$(first_stamp --utc)"
execution=$("$jobsctl" history quick --json | json 'j[0]["execution_id"]')
log=$("$jobsctl" logs "$execution")
matches "logs of an execution id: its job's zone too" "$(stamp_re '\+05:30')" \
  "$(head -1 <<<"$log" | cut -d' ' -f1)"
matches "logs --raw keeps the log's UTC time stamps" "$(stamp_re Z)" "$(first_stamp --raw)"
# logs -f of an execution that has ended: its log, then the end (it once waited forever).
timeout 10 "$jobsctl" logs -f "$execution" >ended.out
expect "logs -f of an ended execution prints its log and exits" "0 $log" "$? $(cat ended.out)"

# history --since yesterday and --until.
count() { "$jobsctl" history quick "$@" --json | json 'len(j)'; }
expect "history --since yesterday" "1" "$(count --since yesterday)"
expect "history --until 1h ago" "0" "$(count --since yesterday --until "1h ago")"
expect "history --until in 1h" "1" "$(count --until "in 1h")"
out=$("$jobsctl" history --since "last week" 2>&1)
expect "history --since: an error that lists the forms" "2 jobsctl: --since: invalid time \"last week\" (valid: 2026-12-01T09:00 (with Z or an offset, else in Asia/Tokyo), now, in 5m, 2h ago, 09:40 (the next one), today 18:00, tomorrow 03:00, yesterday (00:00), 2h (ago))" "$? $out"

# status: a running execution's STARTED in its job's zone and how long it has run; the
# daemon's own times in this machine's zone, or UTC with --utc.
"$jobsctl" trigger slow >/dev/null
running() { "$jobsctl" status "$@" | awk -F'\t' '$2 == "slow" && NF == 7'; }
running_now() { [ -n "$(running)" ]; }
wait_for 10 running_now
row=$(running)
expect "status shows a running execution's start in its job's zone" "IST" \
  "$(cut -f5 <<<"$row" | cut -d' ' -f3)"
matches "status shows how long it has run" '^([0-9]+[dhms])+$' "$(cut -f6 <<<"$row")"
expect "status --utc: its start in UTC" "UTC" "$(running --utc | cut -f5 | cut -d' ' -f3)"
next_fire_zone() { "$jobsctl" status "$@" | awk '/^next fire:/ { print $NF }'; }
expect "status shows jobsd's times in this machine's zone" "JST" "$(next_fire_zone)"
expect "status --utc shows them in UTC" "UTC" "$(next_fire_zone --utc)"
"$jobsctl" cancel "$(cut -f1 <<<"$row")" >/dev/null

# schedule --at: "in 5m" and "09:40" (the next 09:40 in the job's zone) stored at that instant.
scheduled_at() { "$jobsctl" status --json | json '[s["at"] for s in j["scheduled"] if s["job"] == "'"$1"'"][0]'; }
epoch() { date -d "$1" +%s; }
before=$(now)
"$jobsctl" schedule quick --at "in 5m" >/dev/null
expect "schedule --at \"in 5m\" is accepted" "0" "$?"
after=$(now)
at=$(epoch "$(scheduled_at quick)")
expect "stored 5 minutes from now" "1" "$((at >= before + 300 && at <= after + 300))"
next_0940() {
  python3 -c '
import datetime, zoneinfo
z = zoneinfo.ZoneInfo("Asia/Kolkata")
now = datetime.datetime.now(z)
t = now.replace(hour=9, minute=40, second=0, microsecond=0)
if t < now.replace(microsecond=0):
    t += datetime.timedelta(days=1)
print(int(t.timestamp()))'
}
before=$(next_0940)
"$jobsctl" schedule slow --at 09:40 >/dev/null
expect "schedule --at 09:40 is accepted" "0" "$?"
after=$(next_0940)
at=$(epoch "$(scheduled_at slow)")
expect "stored at the next 09:40 Kolkata time" "1" "$((at == before || at == after))"
out=$("$jobsctl" schedule quick --at soon 2>&1)
expect "schedule --at: an error that lists the forms" "2 jobsctl: \"at\": invalid time \"soon\" (valid: 2026-12-01T09:00 (with Z or an offset, else in Asia/Kolkata), now, in 5m, 2h ago, 09:40 (the next one), today 18:00, tomorrow 03:00, yesterday (00:00))" "$? $out"

# logs -f of a job that runs nothing: what it waits for, on standard error.
"$jobsctl" logs -f nightly >follow.out 2>follow.err &
follower=$!
waiting() { grep -c "^jobsctl: waiting for the next execution of nightly, due " follow.err; }
wait_for 10 waiting
expect "logs -f says what it waits for" "0" "$?"
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
line=$(head -1 follow.err)
expect "... when it is due, in the job's zone" "due $(shown_in "$nightly_utc" Asia/Kolkata) (in" \
  "$(sed -E 's/.*(due .*\(in).*/\1/' <<<"$line")"
expect "... and nothing on standard output" "" "$(cat follow.out)"

finish
