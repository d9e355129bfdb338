#!/usr/bin/env bash
# jobsd's HTTP API end to end, with curl against a real jobsd on a free loopback port: tokens of
# each role (jobsctl token), list/show/trigger and the execution's log followed as Server-Sent
# Events to its end, pause and resume, refusals (403 audited, 401, 429 after many failed
# sign-ins, manual runs per hour), bad input (400, 413, 415, 422, path tricks), the OpenAPI
# document checked by the official OpenAPI 3.1 schema, an idle listener that never wakes, 1,000
# idle connections while a job keeps firing every second, a non-loopback address without TLS
# refused, and TLS whose certificate is read again on SIGHUP.
#
#   test_http.sh JOBSCTL JOBSD OPENAPI_SCHEMA
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
schema=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work http
export TZ=UTC

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
base=http://127.0.0.1:$port
mkdir jobs
cat > jobs/hello.yaml <<'YAML'
schedule: "0 3 * * *"
command: "echo hello; sleep 1; echo world"
YAML
cat > jobs/other.yaml <<'YAML'
schedule: "0 4 * * *"
command: "true"
YAML
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
grace_period: 2s
http:
  listen: 127.0.0.1:$port
  request_timeout: 2s
  max_connections_per_ip: 32
  rate_limits:
    manual_runs_per_hour: 2
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
# call METHOD PATH TOKEN [CURL ARGS...]: prints the status; the body in $work/body, the headers
# in $work/headers.
call() {
  local method=$1 path=$2 token=$3
  shift 3
  local auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" "${auth[@]}" "$@" \
    "$base$path"
}
# field EXPR: EXPR (Python, over the JSON body d) of the last call's body.
field() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$work/body" "$1"; }
header_of() { tr -d '\r' < "$work/headers" | awk -F': ' -v h="$1" 'tolower($1) == tolower(h) { print $2 }'; }
audit_row() { sql "select user_name, action, target, substr(outcome, 1, 6) from audit order by id desc limit 1"; }

start_daemon
expect "jobsd starts with the http: section" "0" "$?"
pid=$(cat "$state/jobsd.lock")

# 1. Tokens: printed once, kept as hashes in a 0600 file, listed without their texts.
admin=$("$jobsctl" token create boss --role admin 2> /dev/null)
viewer=$("$jobsctl" token create watcher --role viewer 2> /dev/null)
operator=$("$jobsctl" token create ops --role operator --jobs 'hel*' 2> /dev/null)
limited=$("$jobsctl" token create ci --role operator 2> /dev/null)
expect "a token is jobs_ and 43 characters of base64url" "1" \
  "$(grep -cE '^jobs_[A-Za-z0-9_-]{43}$' <<< "$admin")"
expect "tokens.json is 0600" "600" "$(stat -c %a "$state/tokens.json")"
expect "tokens.json keeps no token text" "0" "$(grep -c "$admin\|$viewer\|$operator" "$state/tokens.json")"
expect "token list: names and roles" "boss admin *|watcher viewer *|ops operator hel*|ci operator *" \
  "$("$jobsctl" token list | cut -f1-3 | tr '\t' ' ' | paste -sd'|')"
"$jobsctl" token list --json > list.json
expect "token list --json has no texts" "0" "$(grep -c 'jobs_' list.json)"
expect "token create is audited without the text" "$(id -un)|token_create|boss|ok" \
  "$(sql "select user_name, action, target, outcome from audit where action = 'token_create' limit 1")"
expect "no token text in audit.log" "0" "$(grep -c 'jobs_' "$state/logs/audit.log")"
"$jobsctl" token create boss --role viewer > /dev/null 2> dup.err
expect "a second token of one name is refused" "jobsctl: a token named boss exists already; revoke it first" \
  "$(cat dup.err)"

# 2. An idle jobsd with the listener on does not wake (its loop has no timeout).
switches() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$pid/task/$pid/status"; }
# Connections jobsd holds (server side, established) on the port: those its process owns, not
# those the kernel has completed that still wait in the listen backlog (ss lists both).
held() { ss -Htnp state established "( sport = :$port )" | grep -c "pid=$pid,"; }
call GET /api/v2/version "$viewer" > /dev/null # a connection made and closed
wait_for 5 eval '[ "$(held)" = 0 ]'
before=$(switches)
sleep 3 # a window to measure, not a wait for something
expect "the idle loop with the listener on does not wake in 3 s" "$before" "$(switches)"

# 3. Reads, as a viewer; the results are the socket's.
expect "GET /api/v2/jobs" "200" "$(call GET /api/v2/jobs "$viewer")"
expect "its content type" "application/json" "$(header_of Content-Type)"
expect "the jobs" "['hello', 'other']" "$(field '[j["id"] for j in d["jobs"]]')"
expect "GET /api/v2/jobs/hello" "200 hello" "$(call GET /api/v2/jobs/hello "$viewer") $(field 'd["id"]')"
expect "GET /api/v2/jobs/nope: not found with the CLI's text" "404 not_found" \
  "$(call GET /api/v2/jobs/nope "$viewer") $(field 'd["code"]')"
expect "its type is problem+json" "application/problem+json" "$(header_of Content-Type)"
expect "GET /api/v2/version" "200 $("$jobsctl" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')" \
  "$(call GET /api/v2/version "$viewer") $(field 'd["version"]')"
expect "GET /api/v2/whoami: the token's name and role" "200 watcher viewer" \
  "$(call GET /api/v2/whoami "$viewer") $(field 'd["token"] + " " + d["role"]')"
expect "GET /api/v2/types: the step types with their schemas" "200 True" \
  "$(call GET /api/v2/types "$viewer") $(field 'any(t["name"] == "command" and "properties" in t["schema"] for t in d["types"])')"
expect "GET /api/v2/queues" "200 True" \
  "$(call GET /api/v2/queues "$viewer") $(field '"queues" in d and "limit" in d["global"]')"
expect "GET /api/v2/health: 200 when all is well" "200 True" \
  "$(call GET /api/v2/health "$viewer") $(field 'd["ok"]')"
expect "GET /api/v2/schedule: the next fires with DST notes" \
  "200 2027-03-28T01:00:00Z DST gap: 02:30 shifted to 03:00" \
  "$(call GET '/api/v2/schedule?expr=30+2+28+3+*&tz=Europe/Berlin&count=1' "$viewer") $(field 'd["fires"][0]["utc"] + " " + d["fires"][0]["dst"]')"
expect "GET /api/v2/schedule of a bad expression: 422 with the parser's text" "422 invalid" \
  "$(call GET '/api/v2/schedule?expr=61+*+*+*+*' "$viewer") $(field 'd["code"]')"
expect "POST /api/v2/validate of a YAML body: its findings" "200 False 1" \
  "$(call POST /api/v2/validate "$viewer" -H 'Content-Type: application/yaml' --data-binary $'schedule: "* * *"\ncommand: "true"\n') $(field 'd["ok"]') $(field 'len(d["findings"])')"
expect "POST /api/v2/reload: admins only" "403 200" \
  "$(call POST /api/v2/reload "$operator") $(call POST /api/v2/reload "$admin")"
expect "POST /api/v2/jobs/hello/schedule: a one-off at a time" "200 2099-01-01T00:00:00Z" \
  "$(call POST /api/v2/jobs/hello/schedule "$operator" -H 'Content-Type: application/json' -d '{"at":"2099-01-01T00:00:00Z"}') $(field 'd["at"]')"
expect "GET /api/v2/audit: admins only" "403 token watcher (viewer) may not read audit: admins only 200" \
  "$(call GET /api/v2/audit "$viewer") $(field 'd["detail"]') $(call GET /api/v2/audit "$admin")"

# 4. Trigger as an operator, then follow the execution's log as SSE to its end.
expect "POST trigger as an operator of hel*" "200" "$(call POST /api/v2/jobs/hello/trigger "$operator")"
execution=$(field 'd["execution_id"]')
curl -s -N --max-time 20 -H "Authorization: Bearer $operator" -H "Accept: text/event-stream" \
  "$base/api/v2/executions/$execution/log" > sse.out
expect "the SSE stream has the step's output" "1" "$(grep -c '"line":".*out: world"' sse.out)"
expect "it ends with an end event" "event: end" "$(grep '^event:' sse.out | tail -1)"
expect "whose data is the execution, a success" "success" \
  "$(grep -A1 '^event: end' sse.out | sed -n 's/^data: //p' | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
expect "the log as text" "200 1" \
  "$(call GET "/api/v2/executions/$execution/log" "$viewer") $(grep -c 'out: hello' body)"
expect "the trigger is audited as the token" "token:ops|trigger|hello|ok" "$(audit_row)"
expect "GET /api/v2/executions/ID: the execution with its steps" "200 success 1" \
  "$(call GET "/api/v2/executions/$execution" "$viewer") $(field 'd["status"]') $(field 'len(d["steps"])')"
expect "GET /api/v2/executions?job=hello&limit=1: a page with a cursor" "200 1 True" \
  "$(call GET '/api/v2/executions?job=hello&limit=1' "$viewer") $(field 'len(d["executions"])') $(field '"next_cursor" in d')"

# 5. Pause and resume.
expect "POST pause with a reason" "200" \
  "$(call POST /api/v2/jobs/hello/pause "$operator" -H 'Content-Type: application/json' -d '{"reason":"maintenance"}')"
call GET /api/v2/jobs "$viewer" > /dev/null
expect "the job is paused, with the reason" "maintenance" \
  "$(field '[j for j in d["jobs"] if j["id"] == "hello"][0]["paused"]["reason"]')"
expect "POST resume" "200" "$(call POST /api/v2/jobs/hello/resume "$operator")"
call GET /api/v2/jobs "$viewer" > /dev/null
expect "the job is not paused" "None" "$(field '[j for j in d["jobs"] if j["id"] == "hello"][0]["paused"]')"

# 6. Roles: a viewer may not trigger; an operator only its glob's jobs. Refusals are audited.
expect "a viewer's trigger: 403" "403 denied" \
  "$(call POST /api/v2/jobs/hello/trigger "$viewer") $(field 'd["code"]')"
expect "its text" "token watcher (viewer) may not trigger hello" "$(field 'd["detail"]')"
expect "audited" "token:watcher|trigger|hello|denied" "$(audit_row)"
expect "an operator outside its glob: 403" "403" "$(call POST /api/v2/jobs/other/disable "$operator")"
expect "its text" "token ops (operator) may not disable other (its jobs: hel*)" "$(field 'd["detail"]')"
expect "audited" "token:ops|disable|other|denied" "$(audit_row)"
expect "the job stayed enabled" "0" "$(grep -c enabled jobs/other.yaml)"
# enable/disable act on a file: the glob is checked against the job it holds, not its name.
cat > jobs/hel-db.yaml <<'YAML'
id: dbprod
schedule: "0 6 * * *"
command: "true"
YAML
printf 'schedule: "0 6 * * *"\ncommand: "true"\nafter: [nosuchjob]\n' > jobs/hel-bad.yaml
wait_for 10 eval '[ "$(call GET /api/v2/jobs/dbprod "$viewer")" = 200 ]'
expect "a file hel-db.yaml holding job dbprod: not a job of hel* (404)" "404 not_found" \
  "$(call POST /api/v2/jobs/hel-db/disable "$operator") $(field 'd["code"]')"
expect "dbprod stayed enabled" "0" "$(grep -c enabled jobs/hel-db.yaml)"
expect "dbprod by its id: 403" "403" "$(call POST /api/v2/jobs/dbprod/disable "$operator")"
expect "a file that does not load (after: an unknown job) is named by its file name" "200" \
  "$(call POST /api/v2/jobs/hel-bad/disable "$operator")"
expect "and disabled" "1" "$(grep -c 'enabled: false' jobs/hel-bad.yaml)"
rm jobs/hel-db.yaml jobs/hel-bad.yaml
expect "the token commands have no route: tokens are made on the socket only" \
  "404" "$(call GET /api/v2/token_list "$admin")"

# 7. Bad input: each a clean error, nothing done.
expect "malformed JSON: 400" "400 bad_request" \
  "$(call POST /api/v2/jobs/hello/pause "$operator" -H 'Content-Type: application/json' -d '{"reason":') $(field 'd["code"]')"
expect "an unknown body field: 422" "422 invalid" \
  "$(call POST /api/v2/jobs/hello/pause "$operator" -H 'Content-Type: application/json' -d '{"reson":"x"}') $(field 'd["code"]')"
expect "a wrong query value: 422" "422" "$(call GET '/api/v2/jobs/hello?fires=many' "$viewer")"
expect "a wrong content type: 415" "415" \
  "$(call POST /api/v2/jobs/hello/pause "$operator" -H 'Content-Type: text/plain' -d 'reason')"
head -c $((2 << 20)) /dev/zero | tr '\0' ' ' > huge.json
expect "a 2 MiB body: 413" "413" \
  "$(call POST /api/v2/jobs/hello/pause "$operator" -H 'Content-Type: application/json' --data-binary @huge.json)"
expect "refused before the command, still audited as the token" "token:ops|pause|hello|too_la" "$(audit_row)"
expect "a 2 MiB chunked body: 413 too_large" "413 too_large" \
  "$(call POST /api/v2/jobs/hello/pause "$operator" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @huge.json) $(field 'd["code"]')"
expect "a query key given twice: 400 naming it" "400 the query gives \"match\" more than once" \
  "$(call GET '/api/v2/jobs?match=a&match=b' "$viewer") $(field 'd["detail"]')"
expect "GET on a POST route: 405 with Allow" "405 POST" \
  "$(call GET /api/v2/jobs/hello/trigger "$viewer") $(header_of Allow)"
expect "an unknown route: 404" "404" "$(call GET /api/v2/nothing "$viewer")"
expect "jobs/..%2F..: 404" "404" "$(call GET '/api/v2/jobs/..%2F..%2Fetc%2Fpasswd' "$viewer")"
expect "jobs/..: 404" "404" "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is -H "Authorization: Bearer $viewer" "$base/api/v2/jobs/..")"
expect "//api/v2/jobs: 404" "404" "$(call GET //api/v2/jobs "$viewer")"
expect "an id with %00: 400" "400 the path has a NUL or another control character" \
  "$(call GET '/api/v2/jobs/hel%00lo' "$viewer") $(field 'd["detail"]')"
expect "a %00 cutting the path short (jobs/hello%00/x): 400, not hello" "400" \
  "$(call GET '/api/v2/jobs/hello%00/x' "$viewer")"
expect "a %0a in the path: 400" "400" "$(call GET '/api/v2/jobs/hel%0alo' "$viewer")"
long=$(head -c 100000 /dev/zero | tr '\0' a)
status=$(call GET "/api/v2/jobs/$long" "$viewer")
expect "a 100,000-byte path: a 4xx" "4" "${status:0:1}"
python3 - "$port" > nul.out <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /api/v2/jo\0bs HTTP/1.1\r\nHost: x\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode())
PY
expect "a NUL in the request line: a 4xx" "HTTP/1.1 4" "$(cut -c1-10 nul.out)"
expect "jobsd lives on" "0" "$(kill -0 "$pid"; echo $?)"
expect "the job was not paused by any of it" "None" \
  "$(call GET /api/v2/jobs "$viewer" > /dev/null; field '[j for j in d["jobs"] if j["id"] == "hello"][0]["paused"]')"

# 8. The OpenAPI document: valid by the official OpenAPI 3.1 schema, every route in it.
expect "GET /api/v2/openapi.json" "200" "$(call GET /api/v2/openapi.json "$viewer")"
python3 - "$schema" body <<'PY' > openapi.out 2>&1
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
errors = list(Draft202012Validator(schema).iter_errors(doc))
for e in errors[:5]:
    print("invalid:", list(e.path), e.message[:200])
routes = ["get /api/v2/jobs", "get /api/v2/jobs/{id}", "post /api/v2/jobs/{id}/trigger",
          "post /api/v2/jobs/{id}/enable", "post /api/v2/jobs/{id}/disable",
          "post /api/v2/jobs/{id}/pause", "post /api/v2/jobs/{id}/resume",
          "get /api/v2/executions", "get /api/v2/executions/{id}",
          "get /api/v2/executions/{id}/log", "post /api/v2/executions/{id}/cancel",
          "get /api/v2/queues", "post /api/v2/validate", "get /api/v2/types",
          "get /api/v2/health", "get /api/v2/version", "get /api/v2/audit",
          "get /api/v2/schedule", "get /api/v2/whoami", "get /api/v2/openapi.json", "get /metrics"]
for r in routes:
    method, path = r.split(" ")
    if method not in doc["paths"].get(path, {}):
        print("missing:", r)
# The check can fail: a document without responses is refused.
broken = dict(doc, paths={"/x": {"get": {"responses": "none"}}})
if not list(Draft202012Validator(schema).iter_errors(broken)):
    print("the schema accepts a broken document")
print("checked", len(routes))
PY
expect "the OpenAPI document is valid and has every route" "checked 21" "$(cat openapi.out)"

# 9. Manual runs per hour (2 here), per token.
call POST /api/v2/jobs/other/trigger "$limited" > /dev/null
call POST /api/v2/jobs/other/trigger "$limited" > /dev/null
expect "a third manual run within the hour: 429" "429" "$(call POST /api/v2/jobs/other/trigger "$limited")"
expect "with Retry-After" "1" "$(header_of Retry-After | grep -cE '^[0-9]+$')"
expect "audited" "token:ci|trigger|other|rate_l" "$(audit_row)"
expect "another token is not limited by it" "200" "$(call POST /api/v2/jobs/hello/trigger "$admin")"

# 9b. {"replace": true} cancels the job's running execution first, whatever its concurrency.
cat > jobs/sleepy.yaml <<'YAML'
schedule: "0 7 * * *"
concurrency: forbid
command: "echo started; sleep 60"
YAML
first_op=$("$jobsctl" token create swap1 --role operator --jobs 'sleep*' 2> /dev/null)
second_op=$("$jobsctl" token create swap2 --role operator --jobs 'sleep*' 2> /dev/null)
wait_for 10 eval '[ "$(call GET /api/v2/jobs/sleepy "$viewer")" = 200 ]'
expect "trigger a long job" "200" "$(call POST /api/v2/jobs/sleepy/trigger "$first_op")"
first=$(field 'd["execution_id"]')
expect "again while it runs: 409 (concurrency: forbid)" "409" \
  "$(call POST /api/v2/jobs/sleepy/trigger "$first_op")"
expect "again with replace: 200" "200" \
  "$(call POST /api/v2/jobs/sleepy/trigger "$second_op" -H 'Content-Type: application/json' -d '{"replace":true}')"
second=$(field 'd["execution_id"]')
expect "a new execution" "1" "$([ -n "$second" ] && [ "$second" != "$first" ] && echo 1)"
wait_for 10 eval '[ "$(call GET "/api/v2/executions/$first" "$viewer")" = 200 ] && [ "$(field '\''d["status"]'\'')" = cancelled ]'
expect "the running one was cancelled" "0" "$?"
expect "audited as the token" "token:swap2|trigger|sleepy|ok" "$(audit_row)"

# 9c. A token revoked ends its open log streams.
peek=$("$jobsctl" token create peek --role viewer 2> /dev/null)
curl -s -N --max-time 30 -H "Authorization: Bearer $peek" -H "Accept: text/event-stream" \
  "$base/api/v2/executions/$second/log" > revoked.out &
follower=$!
wait_for 10 grep -q 'out: started' revoked.out
expect "a viewer follows the long job's log" "0" "$?"
"$jobsctl" token revoke peek > /dev/null
wait_for 2 exited "$follower"
expect "its stream ends within 2 s of the revocation" "0" "$?"
wait "$follower"
expect "with an error event: denied" "denied" \
  "$(grep -A1 '^event: error' revoked.out | sed -n 's/^data: //p' | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')"
call POST "/api/v2/executions/$second/cancel" "$admin" > /dev/null
rm jobs/sleepy.yaml

# 10. 1,000 idle connections while a job fires every second: refused or dropped, the job on time,
# other clients served.
cat > jobs/tick.yaml <<'YAML'
schedule: "* * * * * *"
command: "true"
YAML
wait_for 10 eval '[ "$(sql "select count(*) from job_executions where job_id = '\''tick'\''")" -ge 1 ]'
expect "the every-second job runs" "0" "$?"
python3 - "$port" <<'PY' > idle.out &
import socket, sys, time
held = []
for _ in range(1000):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", int(sys.argv[1])))
    held.append(s)
open("opened", "w").close()
time.sleep(8)  # they stay open on this side until jobsd has dropped them
print(len(held))
PY
idle=$!
since=$(($(date +%s) * 1000))
wait_for 10 test -e opened
most=0
for _ in $(seq 20); do
  n=$(held)
  [ "$n" -gt "$most" ] && most=$n
  sleep 0.1 # samples of the count, not a wait for something
done
expect "jobsd holds at most max_connections_per_ip (32) of them" "1" "$([ "$most" -le 32 ] && echo 1 || echo "$most")"
wait_for 10 eval '[ "$(call GET /api/v2/version "$viewer")" = 200 ]'
expect "another client is served while they are open" "0" "$?"
wait_for 5 eval '[ "$(held)" = 0 ]'
expect "after request_timeout (2s) jobsd holds none of them" "0" "$?"
wait "$idle"
expect "the client kept its 1,000 open meanwhile" "1000" "$(cat idle.out)"
fires=$(sql "select count(*) from job_executions where job_id = 'tick' and status = 'success' and start_ms >= $since and start_ms < $since + 5000")
expect "the job kept firing every second meanwhile (4 or 5 in 5 s)" "1" "$([ "$fires" -ge 4 ] && echo 1 || echo "$fires")"
late=$(sql "select max(start_ms - scheduled_ms) from job_executions where job_id = 'tick' and start_ms >= $since")
expect "none later than 500 ms" "1" "$([ "$late" -lt 500 ] && echo 1 || echo "$late")"

# 11. A client that never reads the SSE stream of a job that writes much every second (a job id
# as the log's id follows its executions): once the kernel's buffers are full and it takes
# nothing for request_timeout (2s), it is dropped, without holding up the loop. One that reads
# gets a keepalive comment while nothing happens.
cat > jobs/chatty.yaml <<'YAML'
schedule: "* * * * * *"
command: "head -c 3000000 /dev/zero | tr '\\0' x | fold -w 100"
YAML
cat > jobs/quiet.yaml <<'YAML'
schedule: "0 5 * * *"
command: "sleep 30"
YAML
wait_for 10 eval '[ "$(call GET /api/v2/jobs/quiet "$viewer")" = 200 ] && [ "$(call GET /api/v2/jobs/chatty "$viewer")" = 200 ]'
runner=$("$jobsctl" token create runner --role admin 2> /dev/null) # with its own manual runs
call POST /api/v2/jobs/quiet/trigger "$runner" > /dev/null
quiet_id=$(field 'd["execution_id"]')
curl -s -N --max-time 18 -H "Authorization: Bearer $viewer" -H "Accept: text/event-stream" \
  "$base/api/v2/executions/$quiet_id/log" > keepalive.out &
keepalive=$!
chatty_id=chatty
python3 - "$port" "$viewer" "$chatty_id" <<'PY' > stuck.out &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(("GET /api/v2/executions/%s/log HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
           "Authorization: Bearer %s\r\n\r\n" % (sys.argv[3], sys.argv[2])).encode())
print(s.getsockname()[1], flush=True)
time.sleep(30)  # never reads
PY
stuck=$!
wait_for 10 test -s stuck.out
client_port=$(cat stuck.out)
stuck_held() { ss -Htn state established "( sport = :$port and dport = :$client_port )" | wc -l; }
wait_for 5 eval '[ "$(stuck_held)" = 1 ]'
expect "the client that never reads is connected" "0" "$?"
since=$(($(date +%s) * 1000))
wait_for 25 eval '[ "$(stuck_held)" = 0 ]'
expect "it is dropped" "0" "$?"
expect "told in jobsd.log" "1" "$(grep -c 'http: client 127.0.0.1 reads too slowly' "$state/logs/jobsd.log")"
late=$(sql "select max(start_ms - scheduled_ms) from job_executions where job_id = 'tick' and start_ms >= $since - 2000")
expect "the every-second job stayed on time meanwhile" "1" "$([ -n "$late" ] && [ "$late" -lt 500 ] && echo 1 || echo "$late")"
kill "$stuck" 2> /dev/null
# (Not under AddressSanitizer, whose shadow memory and quarantine hold hundreds of MB.)
if ! grep -q libasan "/proc/$pid/maps"; then
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
  expect "jobsd's memory stayed small (RSS under 100 MB)" "1" "$([ "$rss" -lt 100000 ] && echo 1 || echo "$rss")"
fi
wait "$keepalive"
expect "a stream with nothing to send gets a keepalive comment after 15 s" "1" \
  "$(grep -c '^: keepalive$' keepalive.out)"
rm jobs/tick.yaml jobs/chatty.yaml jobs/quiet.yaml

# 12. Missing and wrong tokens: 401; after 10 wrong tokens within a minute, 429 for the address's
# wrong tokens (valid ones are still served).
expect "no token: 401" "401" "$(call GET /api/v2/jobs "")"
expect "with WWW-Authenticate" "Bearer realm=\"jobsd\"" "$(header_of WWW-Authenticate)"
rows=$(sql "select count(*) from audit")
expect "a viewer's refused trigger is audited" "403 $((rows + 1)) token:watcher|trigger|hello|denied" \
  "$(call POST /api/v2/jobs/hello/trigger "$viewer") $(sql "select count(*) from audit") $(audit_row)"
expect "a mutating request without a token: 401" "401" "$(call POST /api/v2/jobs/hello/trigger "")"
# 200 token-less POSTs on one connection, none reaching a command: no token (401),
# no such route (404), a GET route (405). A missing token is no failed sign-in: no 429.
urls=()
for i in $(seq 1 200); do
  case $((i % 3)) in
    0) urls+=(-o /dev/null "$base/api/v2/jobs/hello/trigger") ;;
    1) urls+=(-o /dev/null "$base/api/v2/nothing/$i") ;;
    2) urls+=(-o /dev/null "$base/api/v2/version") ;;
  esac
done
curl -s -X POST -w '%{http_code}\n' "${urls[@]}" > anonymous.codes
expect "200 token-less POSTs refused: 401, 404, 405" "66 401|67 404|67 405" \
  "$(sort anonymous.codes | uniq -c | awk '{ print $1, $2 }' | paste -sd'|')"
expect "they add no audit row" "$((rows + 1))" "$(sql "select count(*) from audit")"
expect "a wrong token: 401" "401" "$(call GET /api/v2/jobs "jobs_wrong")"
for _ in $(seq 1 11); do call GET /api/v2/jobs "jobs_wrong" > /dev/null; done
expect "after 12 wrong tokens within a minute, a wrong one: 429 with Retry-After" "429 1" \
  "$(call GET /api/v2/jobs "jobs_wrong") $(header_of Retry-After | grep -cE '^[0-9]+$')"
expect "a valid token from that address is still served" "200" "$(call GET /api/v2/jobs "$viewer")"
expect "and a request without a token still gets 401" "401" "$(call GET /api/v2/jobs "")"
expect "told in jobsd.log" "1" "$(grep -c 'failed sign-ins from 127.0.0.1' "$state/logs/jobsd.log")"
"$jobsctl" token revoke watcher > /dev/null
expect "a revoked token is gone" "boss ci ops runner swap1 swap2" "$("$jobsctl" token list | cut -f1 | sort | paste -sd' ')"
stop_daemon "$state"
# Told at once, then at most once a minute with a count; what remains at the stop.
grep -oE 'http: refused [0-9]+( more)? requests? from 127.0.0.1 of no known token' "$state/logs/jobsd.log" |
  awk '{ n += $3; lines++ } END { print (n >= 201 && lines <= 4) ? "told" : n " in " lines " lines" }' > told.out
expect "the 201 token-less POSTs are told in jobsd.log, in a few lines" "told" "$(cat told.out)"

# 13. A non-loopback address without TLS is refused at start, unless allowed.
sed -i "s/listen: 127.0.0.1:$port/listen: 0.0.0.0:$port/" jobsd.yaml
start_daemon 2> start.err
expect "non-loopback without TLS: jobsd does not start" "1" "$?"
expect "and says why" "1" "$(grep -c 'is not a loopback address and there is no TLS' start.err)"

# 14. TLS, the certificate read again on SIGHUP; a bad pair keeps the old one served.
make_cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 2 -subj "/CN=$1" \
    -addext "subjectAltName=IP:127.0.0.1" 2> /dev/null
}
fingerprint() {
  openssl s_client -connect "127.0.0.1:$port" < /dev/null 2> /dev/null |
    openssl x509 -noout -fingerprint -sha256 2> /dev/null
}
make_cert one && make_cert two
cp one.crt server.crt && cp one.key server.key
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
http:
  listen: 127.0.0.1:$port
  cert_file: $work/server.crt
  key_file: $work/server.key
YAML
start_daemon
expect "jobsd starts with TLS" "0" "$?"
admin=$("$jobsctl" token create boss2 --role admin 2> /dev/null)
expect "HTTPS with the first certificate" "200" \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert one.crt -H "Authorization: Bearer $admin" "https://127.0.0.1:$port/api/v2/version")"
expect "its fingerprint" "$(openssl x509 -in one.crt -noout -fingerprint -sha256)" "$(fingerprint)"
cp two.crt server.crt && cp two.key server.key
kill -HUP "$(cat "$state/jobsd.lock")"
want=$(openssl x509 -in two.crt -noout -fingerprint -sha256)
wait_for 10 eval '[ "$(fingerprint)" = "$want" ]'
expect "after SIGHUP the new certificate is served" "0" "$?"
expect "HTTPS with it" "200" \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert two.crt -H "Authorization: Bearer $admin" "https://127.0.0.1:$port/api/v2/version")"
# A key of another certificate: the old pair stays served, jobsd.log says why; a good pair
# afterwards is served (the listening socket was never lost).
cp two.crt server.crt && cp one.key server.key
kill -HUP "$(cat "$state/jobsd.lock")"
wait_for 10 grep -q "cannot be used (does the key belong to the certificate?); the old ones are still served" "$state/logs/jobsd.log"
expect "a mismatched key on SIGHUP: jobsd.log says why" "0" "$?"
expect "the old certificate is still served" "$want" "$(fingerprint)"
expect "HTTPS still works" "200" \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert two.crt -H "Authorization: Bearer $admin" "https://127.0.0.1:$port/api/v2/version")"
cp one.crt server.crt && cp one.key server.key
kill -HUP "$(cat "$state/jobsd.lock")"
want=$(openssl x509 -in one.crt -noout -fingerprint -sha256)
wait_for 10 eval '[ "$(fingerprint)" = "$want" ]'
expect "a good pair on the next SIGHUP is served" "0" "$?"
expect "plain HTTP on the TLS port is not served" "000" \
  "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/api/v2/version")"
stop_daemon "$state"

# 15. listen: unix:PATH, a socket of mode 0660, removed when jobsd stops.
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
http:
  listen: unix:$work/http.sock
YAML
start_daemon
expect "jobsd starts on a Unix socket" "0" "$?"
expect "its mode" "660" "$(stat -c %a http.sock)"
expect "GET /api/v2/whoami through it" "200" \
  "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket http.sock -H "Authorization: Bearer $admin" http://jobsd/api/v2/whoami)"
stop_daemon "$state"
expect "the socket is removed at stop" "1" "$([ -e http.sock ] && echo 0 || echo 1)"

finish
