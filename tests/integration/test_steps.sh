#!/usr/bin/env bash
# The in-process steps through the real jobsctl against real servers on loopback: a sql step on
# SQLite feeding a shell step and an http step (the cpp-httplib test server), an injection
# attempt through a variable, a file step refused outside allowed_paths, and an inline password
# refused by the config.
set -uo pipefail
jobsctl=$1
http_server=$2
work=$(mktemp -d /tmp/jobs-steps-XXXXXX)
source "$(dirname "$0")/expect.sh"
cd "$work"
mkdir jobs data out
export JOBS_DIR=jobs JOBS_STATE_DIR="$work/state"

# The server says "listening on PORT" once it accepts connections.
coproc server { exec "$http_server" --log "$work/requests.jsonl"; }
server_pid=$server_PID
trap 'kill $server_pid 2>/dev/null; cd /; rm -rf "$work"' EXIT
read -r _ _ port <&"${server[0]}"

python3 - <<'PY'
import sqlite3
db = sqlite3.connect("data/app.db")
db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, total REAL)")
db.executemany("INSERT INTO orders (customer, total) VALUES (?, ?)",
               [("ada", 12.5), ("bob", 7.0), ("eve", 30.25)])
db.commit()
PY

cat > jobsd.yaml <<YAML
connections:
  app:
    type: sqlite
    path: $work/data/app.db
allowed_paths: [$work/out]
YAML

cat > jobs/pipeline.yaml <<YAML
steps:
  - id: extract
    type: sql
    connection: app
    query: SELECT customer, total FROM orders WHERE total > :min ORDER BY id
    params: { min: "10" }
  - id: count
    type: shell
    run: echo "rows=\${steps.extract.row_count} first=\${steps.extract.json.0.customer}"
  - id: post
    type: http
    method: POST
    url: http://127.0.0.1:$port/echo
    headers: { X-Rows: "\${steps.extract.row_count}" }
    json: { rows: "\${steps.extract.row_count}" }
  - id: show
    type: shell
    run: echo "method=\${steps.post.json.method}"
YAML
out=$("$jobsctl" run pipeline --config jobsd.yaml --no-record)
expect "the pipeline succeeds" "0" "$?"
expect "the sql step's rows reach the shell step" "1" "$(grep -c 'count | rows=2 first=ada' <<<"$out")"
expect "the http step's JSON response is readable" "1" "$(grep -c 'show | method=POST' <<<"$out")"
expect "the row count went out as a header and in the JSON body" '2 {"rows":"2"}' \
  "$(python3 -c '
import json
r = [json.loads(l) for l in open("requests.jsonl")][-1]
h = {k.lower(): v for k, v in r["headers"].items()}
print(h["x-rows"], r["body"])')"

# A variable's value is bound, never SQL.
cat > jobs/inject.yaml <<'YAML'
env: { WHO: "x' OR '1'='1" }
steps:
  - id: q
    type: sql
    connection: app
    query: SELECT count(*) AS n FROM orders WHERE customer = ${env.WHO}
  - id: say
    type: shell
    run: echo "n=${steps.q.json.0.n}"
YAML
out=$("$jobsctl" run inject --config jobsd.yaml --no-record)
expect "an injection through a variable matches nothing" "1" "$(grep -c 'say | n=0' <<<"$out")"

# A line break in a variable cannot add a header.
cat > jobs/header.yaml <<YAML
env: { TAG: "a\\r\\nX-Evil: 1" }
steps:
  - type: http
    url: http://127.0.0.1:$port/echo
    headers: { X-Tag: "\${env.TAG}" }
YAML
before=$(wc -l < requests.jsonl)
out=$("$jobsctl" run header --config jobsd.yaml --no-record 2>&1)
expect "a header injection through a variable fails the step" "1" "$?"
expect "and says why" "1" \
  "$(grep -c '^  step "step-1": header "X-Tag": a value cannot contain a line break' <<<"$out")"
expect "and nothing was sent" "$before" "$(wc -l < requests.jsonl)"

# A secret in a URL is redacted also in its percent-encoded form.
printf 'TOKEN=a+b/c=d\n' > secrets
cat > jobs/token.yaml <<YAML
steps:
  - type: http
    url: "http://127.0.0.1:$port/status/404?t=\${secret.TOKEN}"
YAML
out=$("$jobsctl" run token --config jobsd.yaml --secrets secrets --no-record 2>&1)
expect "the request fails (404)" "1" "$?"
expect "and the token is in none of its lines" "0" "$(grep -cF -e 'a+b/c=d' -e 'a%2Bb%2Fc%3Dd' <<<"$out")"
expect "which show it redacted" "1" "$(grep -c '^  step "step-1": HTTP 404 .*t=\*\*\*' <<<"$out")"

# A file step outside allowed_paths is refused.
cat > jobs/escape.yaml <<YAML
steps:
  - type: file
    action: copy
    source: $work/data/app.db
    destination: $work/out/
YAML
out=$("$jobsctl" run escape --config jobsd.yaml --no-record 2>&1)
expect "a file step outside allowed_paths fails" "1" "$?"
expect "and says why" "1" \
  "$(grep -cF "  step \"step-1\": $work/data/app.db is outside allowed_paths ($work/out)" <<<"$out")"

# Relative paths are the job file's folder's; yes is true.
echo hello > out/a.txt
cat > jobs/relative.yaml <<'YAML'
steps:
  - id: try
    type: file
    action: copy
    source: ../out/a.txt
    destination: ../out/copies/
    dry_run: yes
  - id: copy
    type: file
    action: copy
    source: ../out/a.txt
    destination: ../out/copies/
YAML
out=$("$jobsctl" run relative --config jobsd.yaml --no-record 2>&1)
expect "a file step with relative paths runs" "0" "$?"
expect "the dry run (yes) copied nothing, the copy did" "1 1" \
  "$(grep -c '^  try | would copy' <<<"$out") $(ls out/copies | wc -l)"

# An inline password in the config is refused where it is written.
cat > bad.yaml <<'YAML'
connections:
  w:
    type: postgresql
    url: postgresql://etl:hunter2@127.0.0.1/w
YAML
out=$("$jobsctl" run pipeline --config bad.yaml --no-record 2>&1)
expect "an inline password is a usage error" "2" "$?"
expect "with its place" "1" "$(grep -c '^bad.yaml:4:10: error: "connections.w.url": holds a password' <<<"$out")"

finish
