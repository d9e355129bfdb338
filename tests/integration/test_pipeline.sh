#!/usr/bin/env bash
# The EDD's "Daily Data Pipeline" end to end in a real jobsd: a sql step on the test PostgreSQL,
# a shell step processing its rows, an azure_devops step queuing a run on the test server and
# following it to its result. Then the same job failing in its shell step: an email with that
# step's output reaches the test SMTP server and a JSON summary the webhook, and the deploy step
# does not run. A notification that cannot be sent leaves the job's status alone. The secrets
# (the database password, the PAT) appear in no file of the state folder and in no output.
#
#   test_pipeline.sh JOBSCTL JOBSD HTTP_SERVER SMTP_SERVER   (JOBS_TEST_POSTGRES: the cluster)
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
http_server=$(realpath "$3")
smtp_server=$(realpath "$4")
pg=${JOBS_TEST_POSTGRES:?the folder of the test PostgreSQL cluster (tests/support/postgres.sh)}
work=$(mktemp -d /tmp/jobs-pipeline-XXXXXX)
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/daemon.sh"
cd "$work" || exit 1
mkdir jobs mail out
export JOBS_STATE_DIR="$work/state" JOBS_SOCKET="$work/jobsd.sock" JOBS_CONFIG="$work/jobsd.yaml" \
  JOBS_DIR="$work/jobs"

# Both servers say "listening on PORT" once they accept connections.
exec {http_out}< <(exec "$http_server" --log "$work/requests.jsonl")
http_pid=$!
read -r _ _ http_port <&"$http_out"
exec {smtp_out}< <(exec python3 "$smtp_server" --maildir "$work/mail" \
  --reject-rcpt nobody@example.com)
smtp_pid=$!
read -r _ _ smtp_port <&"$smtp_out"

cleanup() {
  stop_daemon "$work/state" 30
  kill "$http_pid" "$smtp_pid" 2>/dev/null
  cd /
  [ "$failures" -eq 0 ] && rm -rf "$work"
}
trap cleanup EXIT

# The warehouse: a table in the test cluster (its own name: other tests share the cluster).
pg_password=$(cat "$pg/password")
psql() { PGPASSWORD=$pg_password command psql -X -q -v ON_ERROR_STOP=1 "$(cat "$pg/conninfo")" "$@"; }
psql -c "DROP TABLE IF EXISTS pipeline_source" \
  -c "CREATE TABLE pipeline_source (id int PRIMARY KEY, day date, amount numeric(10,2))" \
  -c "INSERT INTO pipeline_source VALUES (1, '2026-12-01', 12.50), (2, '2026-12-01', 7.00),
      (3, '2026-12-01', 30.25), (9, '2026-11-30', 1.00)"

printf 'WAREHOUSE_PASSWORD=%s\nAZURE_DEVOPS_PAT=test-pat\n' "$pg_password" > secrets
chmod 600 secrets
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
grace_period: 2s
secrets_file: $work/secrets
connections:
  warehouse:
    type: postgresql
    conninfo: "$(cat "$pg/conninfo")"
    password: \${secret.WAREHOUSE_PASSWORD}
smtp:
  host: 127.0.0.1
  port: $smtp_port
  security: none
  from: jobs@example.com
YAML

# The EDD's example, as a job file.
cat > jobs/daily-data-pipeline.yaml <<YAML
name: Daily Data Pipeline
description: Extract, transform, and deploy data
timezone: America/New_York
schedule: "0 6 * * *"
timeout: 10m
notify:
  on_failure:
    - email: ops@example.com
    - webhook: http://127.0.0.1:$http_port/echo?hook=failure
  on_success:
    - command: echo "\$JOB_ID \$JOB_STATUS" >> $work/out/notified
steps:
  - id: extract
    name: Extract Data
    type: sql
    connection: warehouse
    query: SELECT id, amount FROM pipeline_source WHERE day = CAST(:day AS date) ORDER BY id
    params: { day: "2026-12-01" }
    timeout: 5m
  - id: process
    name: Process Data
    type: shell
    run: |
      echo "processing \${steps.extract.row_count} rows"
      printf '%s' "\${steps.extract.rows}" | python3 -c '
      import json, sys
      rows = json.load(sys.stdin)
      for r in rows:
          if float(r["amount"]) < 0:
              sys.exit("ERROR: row %s has a negative amount (%s)" % (r["id"], r["amount"]))
      print("total %.2f" % sum(float(r["amount"]) for r in rows))'
  - id: deploy
    name: Deploy to Production
    type: azure_devops
    organization: mycompany
    project: data-platform
    pipeline_id: 1
    branch: main
    parameters: { Environment: production, Rows: "\${steps.extract.row_count}" }
    wait: true
    poll_interval: 1s
    token: \${secret.AZURE_DEVOPS_PAT}
    base_url: http://127.0.0.1:$http_port
YAML

"$jobsctl" validate --config jobsd.yaml jobs > validate.out 2>&1
expect "the pipeline validates" "0" "$?"
"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$work/state" \
  --log-dir "$work/state/logs"
expect "jobsd starts" "0" "$?"

# --- the pipeline succeeds
out=$("$jobsctl" trigger daily-data-pipeline --wait 2>&1)
expect "the pipeline succeeds" "0" "$?"
log=$("$jobsctl" logs daily-data-pipeline 2>&1)
expect "the sql step's rows reach the shell step" "1" \
  "$(grep -c '\[process\] out: processing 3 rows' <<<"$log")"
expect "which computes from them" "1" "$(grep -c '\[process\] out: total 49.75' <<<"$log")"
runs=$(python3 - <<'PY'
import json
for line in open("requests.jsonl"):
    r = json.loads(line)
    if r["method"] == "POST" and "/_apis/pipelines/" in r["path"]:
        body = json.loads(r["body"])
        print(r["path"], r["query"].get("api-version"),
              body["resources"]["repositories"]["self"]["refName"],
              json.dumps(body["templateParameters"], sort_keys=True))
PY
)
expect "one pipeline run was queued, with the branch and the parameters" \
  '/mycompany/data-platform/_apis/pipelines/1/runs 7.1 refs/heads/main {"Environment": "production", "Rows": "3"}' \
  "$runs"
expect "and followed until it succeeded" "1" \
  "$(grep -c '\[deploy\] out: run [0-9]* completed: succeeded' <<<"$log")"
expect "the three steps succeeded" "3" \
  "$(grep -c -- '--- step \(extract\|process\|deploy\): success' <<<"$log")"
history=$("$jobsctl" history daily-data-pipeline --json)
expect "the history says success" "success" \
  "$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])[0]["status"])' "$history")"
expect "on_success ran its command" "daily-data-pipeline success" "$(cat out/notified 2>&1)"
expect "the execution log records it" "1" \
  "$(grep -c 'notify on_success command .*: sent' <<<"$log")"
expect "no email on success" "0" "$(ls mail | grep -c 'json$')"

# --- a row the process step rejects: it fails, deploy does not run, ops get its output
psql -c "INSERT INTO pipeline_source VALUES (4, '2026-12-01', -5.00)"
out=$("$jobsctl" trigger daily-data-pipeline --wait 2>&1)
expect "the failing pipeline exits 1" "1" "$?"
log=$("$jobsctl" logs daily-data-pipeline 2>&1)
expect "deploy did not run: still one pipeline run queued" "1" "$(python3 -c '
import json
posts = [r for r in map(json.loads, open("requests.jsonl"))
         if r["method"] == "POST" and "/_apis/pipelines/" in r["path"]]
print(len(posts))')"
mail_check=$(python3 - <<'PY'
import email, email.policy, glob, json
metas = sorted(glob.glob("mail/*.json"))
print(len(metas))
meta = json.load(open(metas[-1]))
print(",".join(meta["rcpt"]))
m = email.message_from_bytes(open(metas[-1][:-5] + ".eml", "rb").read(), policy=email.policy.default)
print(m["Subject"])
body = m.get_content()
print("row 4 in body:", "ERROR: row 4 has a negative amount (-5.00)" in body)
print("step named:", "process (shell): failed" in body)
PY
)
expect "one email, to ops, saying what failed, with the failing step's output" \
  "1
ops@example.com
[jobs] Daily Data Pipeline failed on $(hostname)
row 4 in body: True
step named: True" "$mail_check"
hook=$(python3 - <<'PY'
import json
hooks = [r for r in map(json.loads, open("requests.jsonl")) if r["query"].get("hook") == "failure"]
p = json.loads(hooks[-1]["body"])
f = p["failed_step"]
print(len(hooks), p["event"], p["job_id"], p["status"], f["step_id"], f["exit_code"],
      "row 4" in f["error_output_tail"], [s["status"] for s in p["steps"]])
PY
)
expect "the webhook got the summary with the failing step's output" \
  "1 on_failure daily-data-pipeline failed process 1 True ['success', 'failed', 'skipped']" "$hook"
expect "both notifications are in the execution's log" "2" \
  "$(grep -c 'notify on_failure \(email ops@example.com\|webhook http://127.0.0.1:[0-9]*/echo?hook=failure\): sent' <<<"$log")"

# --- a notification that cannot be sent: logged, the job's status unchanged
cat > jobs/noisy.yaml <<YAML
notify:
  on_success:
    - webhook: http://127.0.0.1:$http_port/status/500
    - email: nobody@example.com
command: echo fine
YAML
"$jobsctl" reload >/dev/null
"$jobsctl" trigger noisy --wait >/dev/null 2>&1
expect "a job whose notifications fail still succeeds" "0" "$?"
log=$("$jobsctl" logs noisy 2>&1)
expect "and its log says why each failed" "1" \
  "$(grep -c 'notify on_success webhook http://127.0.0.1:[0-9]*/status/500: failed: HTTP 500' <<<"$log")"
expect "the email too" "1" "$(grep -c 'notify on_success email nobody@example.com: failed: .*550' <<<"$log")"
expect "and jobsd.log warns of both" "2" "$(grep -c 'noisy: .*notification on_success .* failed' state/logs/jobsd.log)"

# --- jobsctl run with the same config: a statement cut off by its timeout, a pipeline run that
# fails, an email step
cat > jobs/slow.yaml <<'YAML'
steps:
  - id: wait
    type: sql
    connection: warehouse
    query: SELECT pg_sleep(60)
    timeout: 1s
YAML
start=$SECONDS
out=$("$jobsctl" run slow --no-record 2>&1)
expect "a statement past its timeout: the step times out" "5" "$?"
expect "within seconds, not after the statement's 60" "1" "$((SECONDS - start < 15))"
active=$(psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'")
expect "and the server is no longer running it" "0" "$active"

cat > jobs/deploy-fails.yaml <<YAML
steps:
  - id: deploy
    type: azure_devops
    organization: mycompany
    project: data-platform
    pipeline_id: 2
    wait: true
    poll_interval: 1s
    token: \${secret.AZURE_DEVOPS_PAT}
    base_url: http://127.0.0.1:$http_port
  - id: after
    type: shell
    when: always
    run: echo "result=\${steps.deploy.run_result} state=\${steps.deploy.run_state}"
YAML
out=$("$jobsctl" run deploy-fails --no-record 2>&1)
expect "a pipeline run that fails fails the step" "1" "$?"
expect "its result is readable by later steps" "1" \
  "$(grep -c 'after | result=failed state=completed' <<<"$out")"

cat > jobs/tell.yaml <<'YAML'
steps:
  - id: count
    type: sql
    connection: warehouse
    query: SELECT count(*) AS n FROM pipeline_source
  - id: tell
    type: email
    to: [data@example.com]
    subject: "pipeline_source: ${steps.count.json.0.n} rows"
    body: "Rows today: ${steps.count.row_count}\n"
YAML
out=$("$jobsctl" run tell --no-record 2>&1)
expect "an email step sends through the config's SMTP server" "0" "$?"
expect "the message arrived with its variables" "data@example.com|pipeline_source: 5 rows" \
  "$(python3 - <<'PY'
import email, email.policy, glob, json
for meta in sorted(glob.glob("mail/*.json"), key=lambda p: int(p.split("/")[-1][:-5])):
    if json.load(open(meta))["rcpt"] == ["data@example.com"]:
        m = email.message_from_bytes(open(meta[:-5] + ".eml", "rb").read(),
                                     policy=email.policy.default)
        print("data@example.com|" + m["Subject"])
PY
)"

# --- the secrets are nowhere
leaks=$( (grep -rlF -e "$pg_password" -e "test-pat" -e "OnRlc3QtcGF0" state; \
  for o in "$out" "$log" "$history" "$("$jobsctl" show daily-data-pipeline 2>&1)" \
    "$("$jobsctl" status 2>&1)"; do
    grep -cF -e "$pg_password" -e "test-pat" <<<"$o"
  done) | grep -v '^0$')
expect "no secret in the state folder or the outputs" "" "$leaks"

finish
