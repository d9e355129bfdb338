#!/usr/bin/env bash
# What an execution's records and notifications say, through a real jobsd and the real jobsctl:
# every notification (command, webhook, email) and jobs.jsonl name the step that failed the
# job, not an earlier one that was allowed to fail; history records have their steps, through
# the socket and from the store alike; a run with no scheduled instant has no scheduled time in
# the webhook step's payload, its variables and its record, and a scheduled one has its instant.
#
#   test_records.sh JOBSCTL JOBSD HTTP_SERVER SMTP_SERVER
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
http_server=$(realpath "$3")
smtp_server=$(realpath "$4")
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/daemon.sh"
new_work records
mkdir jobs mail
export JOBS_CONFIG="$work/jobsd.yaml" JOBS_DIR="$work/jobs"

# Both servers say "listening on PORT" once they accept connections.
exec {http_out}< <(exec "$http_server" --log "$work/requests.jsonl")
http_pid=$!
read -r _ _ http_port <&"$http_out"
exec {smtp_out}< <(exec python3 "$smtp_server" --maildir "$work/mail")
smtp_pid=$!
read -r _ _ smtp_port <&"$smtp_out"
cleanup_more() { kill "$http_pid" "$smtp_pid" 2>/dev/null; }

cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
smtp:
  host: 127.0.0.1
  port: $smtp_port
  security: none
  from: jobs@example.com
YAML

# b fails but may; d fails the job.
cat > jobs/abcd.yaml <<YAML
notify:
  on_failure:
    - command: cat > $work/notified.tmp && mv $work/notified.tmp $work/notified.json
    - webhook: http://127.0.0.1:$http_port/echo?hook=failure
    - email: ops@example.com
steps:
  - {id: a, type: shell, run: "echo a"}
  - {id: b, type: shell, run: "echo b fails >&2; exit 3", continue_on_failure: true}
  - {id: c, type: shell, run: "echo c"}
  - {id: d, type: shell, run: "echo d fails >&2; exit 4"}
YAML

# What the step's process sees, then the webhook step's default payload.
cat > jobs/hook.yaml <<YAML
steps:
  - id: vars
    type: shell
    run: echo "[\$JOB_SCHEDULED_TIME] \$JOB_SCHEDULED_DATE" > $work/vars-\$JOB_EXECUTION_ID
  - {id: post, type: webhook, url: "http://127.0.0.1:$http_port/echo?hook=step"}
YAML

# The webhook step's bodies, one line each: trigger, scheduled_time and what the step's process
# saw of the execution's variables.
hook_bodies() {
  python3 - "$work" <<'PY'
import json, sys
for line in open(sys.argv[1] + "/requests.jsonl"):
    r = json.loads(line)
    if r["query"].get("hook") == "step":
        b = json.loads(r["body"])
        print(b["trigger"], json.dumps(b["scheduled_time"]),
              open(sys.argv[1] + "/vars-" + b["execution_id"]).read().strip())
PY
}

# --- a run by hand (no daemon yet): no scheduled time anywhere; the date is the start's.
"$jobsctl" run hook > run.out 2>&1
expect "the manual run succeeds" "0" "$?"
expect "the webhook step's payload has a null scheduled_time, as the record" \
  "$("$jobsctl" history hook --json | python3 -c '
import json, sys
e = json.load(sys.stdin)[0]
print(e["trigger"], json.dumps(e["scheduled_time"]), "[]", e["start_time"][:10])')" "$(hook_bodies)"

"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state" \
  --log-dir "$state/logs"
expect "jobsd starts" "0" "$?"

# --- a fire of its own: its scheduled instant everywhere.
at=$(date -u -d "@$(($(date +%s) + 5))" +%Y-%m-%dT%H:%M:%SZ)
"$jobsctl" schedule hook --at "$at" >/dev/null
expect "a run at a time is scheduled" "0" "$?"
hook_count() { [ "$(hook_bodies | wc -l)" -ge "$1" ]; }
wait_for 20 hook_count 2
expect "the scheduled run's payload and variables have its instant" \
  "manual \"${at%Z}.000Z\" [${at%Z}.000Z] ${at:0:10}" "$(hook_bodies | sed -n 2p)"

# --- the step that failed the job, in every notification and record.
"$jobsctl" trigger abcd --wait > trigger.out 2>&1
expect "abcd fails" "1" "$?"
wait_for 10 test -s notified.json
sent() { [ -n "$(ls mail/*.json 2>/dev/null)" ] && grep -c hook=failure requests.jsonl; }
wait_for 10 sent
expect "the command's summary names d, as its error_message does" \
  'd 4 d fails
 step "d": exit code 4' \
  "$(python3 -c '
import json, sys
p = json.load(open("notified.json"))
f = p["failed_step"]
print(f["step_id"], f["exit_code"], f["error_output_tail"], p["error_message"])')"
expect "the webhook's summary names d" "d" \
  "$(python3 -c '
import json
r = [json.loads(l) for l in open("requests.jsonl")]
print([json.loads(x["body"])["failed_step"]["step_id"] for x in r if x["query"].get("hook") == "failure"][-1])')"
expect "the email shows d's output, not b's" "True False" "$(python3 -c '
import email, email.policy, glob
m = email.message_from_bytes(open(glob.glob("mail/*.eml")[0], "rb").read(),
                             policy=email.policy.default)
body = m.get_content().replace("\r\n", "\n")
print("The end of step d\x27s error output:\nd fails" in body, "step b\x27s" in body)')"
expect "jobs.jsonl's exit code is d's" "failed 4" \
  "$(python3 -c '
import json
r = json.loads(open("state/logs/jobs.jsonl").readlines()[-1])
print(r["status"], r["exit_code"])')"

# --- history records have their steps, through the socket and from the store.
# The steps of the first record of a JSON array (or of a record), one line each.
steps_of() {
  python3 -c '
import json, sys
e = json.load(sys.stdin)
e = e[0] if isinstance(e, list) else e
for s in e["steps"]:
    print(s["step_id"], s["status"], s["exit_code"], s["attempt"], s["error_message"] or "-",
          s["start_time"] <= s["end_time"], ",".join(s))'
}
# The record of execution $1 in a JSON array, with its keys sorted.
record_of() {
  python3 -c '
import json, sys
print([json.dumps(e, sort_keys=True) for e in json.load(sys.stdin) if e["execution_id"] == sys.argv[1]])' "$1"
}
keys="step_id,step_name,step_type,status,start_time,end_time,duration_seconds,exit_code,signal,attempt,error_message,output,error_output"
through_socket=$("$jobsctl" history abcd --json)
expect "history --json through jobsd: the steps" \
  "a success 0 1 - True $keys
b failed 3 1 exit code 3 True $keys
c success 0 1 - True $keys
d failed 4 1 exit code 4 True $keys" "$(steps_of <<<"$through_socket")"
expect "the steps of trigger --wait --json's record are alike" \
  "$(steps_of <<<"$through_socket")" \
  "$("$jobsctl" trigger abcd --wait --json 2>/dev/null | steps_of)"
execution=$(python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["execution_id"])' \
  <<<"$through_socket")
stop_daemon "$state"
expect "history --json from the store: the same record" \
  "$(record_of "$execution" <<<"$through_socket")" \
  "$("$jobsctl" history abcd --json | record_of "$execution")"

finish
