#!/usr/bin/env bash
# The socket commands the HTTP API maps its routes onto (man/jobsd.8, PROTOCOL), driven with raw
# JSON requests over jobsd's Unix socket (python3): list's filters and paging, show's fires with
# DST notes, history's cursor paging while new executions arrive (no row skipped or repeated),
# execution, queues, validate (nothing written), types, health (the reasons jobsctl check
# gives), audit (admins only, not audited itself) and preview (the notes and errors of jobsctl
# next). Each result's shape and each error's code and text.
#
#   test_api_commands.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work api
mkdir -m 755 jobs drafts
export JOBS_CONFIG="$work/jobsd.yaml" JOBS_DIR="$work/jobs"
cat > jobsd.yaml <<YAML
socket: $JOBS_SOCKET
default_timezone: UTC
access:
  socket_group: nogroup
  readers: all
connections:
  warehouse:
    type: sqlite
    path: wh.db
YAML
# spring: once a year, on the day New York's clocks skip 02:00-03:00 in 2027.
cat > jobs/spring.yaml <<'YAML'
schedule: "30 2 14 3 *"
timezone: America/New_York
command: "true"
YAML
cat > jobs/beta.yaml <<'YAML'
schedule: "0 0 1 1 *"
command: "true"
YAML
cat > jobs/broken.yaml <<'YAML'
name: Broken thing
schedule: "0 0 1 1 *"
command: "exit 3"
YAML
cat > jobs/gamma.yaml <<'YAML'
enabled: false
schedule: "0 0 1 1 *"
command: "true"
YAML

"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state" \
  --log-dir "$state/logs"
expect "jobsd starts" "0" "$?"

# api PYTHON: runs the code after the helper `call(cmd, **args)`, which sends one request on a
# new connection and returns the reply ("result", or "error" as "CODE: message").
helpers='
import json, socket, sys
def call(cmd, **args):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    f = s.makefile("rb")
    f.readline()  # the hello
    s.sendall(json.dumps({"v": 1, "id": 1, "cmd": cmd, "args": args}).encode() + b"\n")
    while True:
        r = json.loads(f.readline())
        if "event" not in r:
            break
    s.close()
    if "error" in r:
        return "%s: %s" % (r["error"]["code"], r["error"]["message"])
    return r["result"]
def out(*values):
    print(*[v if isinstance(v, str) else json.dumps(v) for v in values])
'
api() {
  python3 - "$JOBS_SOCKET" "$@" <<<"$helpers$1"
}

# --- list
expect "list without arguments: as before (no total, no next_cursor)" \
  "beta broken gamma spring | jobs_dir jobs files_with_errors" "$(api '
r = call("list")
out(" ".join(j["id"] for j in r["jobs"]), "|", " ".join(r))')"
expect "list match: a glob on the id or the name" '["beta", "broken"] 2 null | ["broken"]' \
  "$(api '
r = call("list", match="b*")
s = call("list", match="Broken*")
out([j["id"] for j in r["jobs"]], r["total"], r["next_cursor"], "|", [j["id"] for j in s["jobs"]])')"
expect "list enabled=false" '["gamma"]' "$(api 'out([j["id"] for j in call("list", enabled=False)["jobs"]])')"
expect "list pages by id: no job skipped or repeated, total on each page" \
  'beta broken | gamma spring | 4 4 null' "$(api '
a = call("list", limit=2)
b = call("list", limit=2, cursor=a["next_cursor"])
out(" ".join(j["id"] for j in a["jobs"]), "|", " ".join(j["id"] for j in b["jobs"]), "|",
    a["total"], b["total"], b["next_cursor"])')"
expect "list refuses a limit over 500 and an unknown status" \
  'invalid: "limit" must be between 1 and 500, got 501 | invalid: unknown status "sleepy" (a last status such as failed, or paused, running or never)' \
  "$(api 'out(call("list", limit=501), "|", call("list", status="sleepy"))')"

"$jobsctl" trigger broken --wait >/dev/null 2>&1
"$jobsctl" pause gamma >/dev/null
expect "list status: a last status, never, paused" \
  '["broken"] | ["beta", "gamma", "spring"] | ["gamma"]' "$(api '
ids = lambda s: [j["id"] for j in call("list", status=s)["jobs"]]
out(ids("failed"), "|", ids("never"), "|", ids("paused"))')"

# --- show
notes=$("$jobsctl" next spring -n 3 --json | python3 -c '
import json, sys
print(json.dumps([f["note"] for f in json.load(sys.stdin)]))')
expect "show's fires carry jobsctl next's DST notes" "$notes 3" "$(api '
r = call("show", job="spring", fires=3)
out([f["dst"] for f in r["next_fires"]], len(r["next_fires"]))')"
expect "show's DST note for 2027's spring gap" 'DST gap: 02:30 shifted to 03:00' \
  "$(api 'out(call("show", job="spring", fires=1)["next_fires"][0]["dst"])')"
expect "show: the pause of the job as list gives it, null when none" "true true null" "$(api '
r = call("show", job="gamma")
row = [j for j in call("list")["jobs"] if j["id"] == "gamma"][0]
out(r["paused"] == row["paused"], r["paused"]["user"] is not None, call("show", job="beta")["paused"])')"
expect "show: 5 fires by default, at most 50" \
  'invalid: "fires" must be between 1 and 50, got 51' "$(api '
assert len(call("show", job="spring")["next_fires"]) == 5
out(call("show", job="spring", fires=51))')"

# --- history: pages stay put while executions arrive.
for _ in 1 2 3 4 5; do "$jobsctl" trigger beta --wait >/dev/null 2>&1; done
before=$(api 'out(" ".join(e["execution_id"] for e in call("history", job="beta", limit=0)))')
expect "history without paging: an array as before" "list 5" \
  "$(api 'r = call("history", job="beta"); out(type(r).__name__, len(r))')"
api '
r = call("history", job="beta", page=True, limit=2)
open("page1", "w").write(json.dumps(r))' >/dev/null
"$jobsctl" trigger beta --wait >/dev/null 2>&1
"$jobsctl" trigger beta --wait >/dev/null 2>&1
expect "history pages: the five in order, none skipped or repeated, then null" "$before | null" \
  "$(api '
first = json.load(open("page1"))
rows, cursor = list(first["executions"]), first["next_cursor"]
while cursor:
    page = call("history", job="beta", limit=2, cursor=cursor)
    rows += page["executions"]
    cursor = page["next_cursor"]
out(" ".join(e["execution_id"] for e in rows), "|", cursor)')"
expect "history refuses a negative limit (0 is all, as jobsctl history --limit 0)" \
  'invalid: "limit" must be between 0 (all) and 2147483647, got -1 | 7' \
  "$(api 'out(call("history", job="beta", limit=-1), "|", len(call("history", job="beta", limit=0)))')"
expect "an unsigned limit beyond the integers is out of range, not -1" \
  'invalid: "limit" is out of range, got 18446744073709551615' \
  "$(api 'out(call("list", limit=18446744073709551615))')"
expect "history refuses a cursor it did not give" \
  'invalid: "cursor": not one this command gave: "x"' "$(api 'out(call("history", cursor="x"))')"

# --- execution
last=$(api 'out(call("history", job="broken", limit=1)[0]["execution_id"])')
expect "execution: one with its steps" "$last broken failed 1 true" "$(api "
r = call('execution', execution='$last')
out(r['execution_id'], r['job_id'], r['status'], len(r['steps']), 'output' in r['steps'][0])")"
expect "execution: none" 'not_found: no execution "nope" in the history' \
  "$(api 'out(call("execution", execution="nope"))')"

# --- queues: the objects of status.
expect "queues: status's queues and global" "true true" "$(api '
q, s = call("queues"), call("status")
out(q["queues"] == s["queues"], q["global"] == s["global"])')"

# --- validate: in memory; nothing written.
listing=$(ls -l --time-style=full-iso jobs)
expect "validate: a good job, canonical, no findings" 'true good {"cron": ["@daily"], "missed": "once", "dst_gap": "shift"} []' "$(api '
r = call("validate", text="schedule: \"@daily\"\ncommand: \"true\"\n", format="yaml", name="good.yaml")
out(r["ok"], r["job"]["id"], r["job"]["schedule"], r["findings"])')"
expect "validate: a bad job, its findings placed" \
  'false null [{"path": "bad.json", "line": 1, "col": 15, "severity": "error", "message": "schedule: field 1 (minute): 61 is out of range 0-59"}]' \
  "$(api '
r = call("validate", text="{\"schedule\": \"61 * * * *\", \"command\": \"true\"}", format="json", name="bad.json")
out(r["ok"], r["job"], r["findings"])')"
expect "validate refuses a path for a name, and a format that is not the name's" \
  'invalid: "name" must be a file name (no '"'"'/'"'"', at most 255 bytes), got "../x.yaml" | invalid: "format" is json but "name" is a yaml file' \
  "$(api 'out(call("validate", text="", name="../x.yaml"), "|", call("validate", text="", format="json", name="x.yaml"))')"

printf 'schedule: "@daily"\ntimeout: none\nsteps:\n  - {id: q, type: sql, connection: wh, query: "select 1"}\n' \
  > drafts/draft.yaml
"$jobsctl" validate --json drafts/draft.yaml >admin.json
expect "jobsctl validate names the configuration and its connections" "true" "$(python3 -c '
import sys
t = open("admin.json").read()
print(str(sys.argv[1] in t and "warehouse" in t).lower())' "$work/jobsd.yaml")"
expect "validate: the configuration's checks, naming only what the job names (no path, no other connection)" \
  '[[2, 10, "warning", "\"timeout: none\": the job can run forever, and while it runs, concurrency forbid skips every later fire; give it a timeout such as 6h"], [4, 36, "error", "connection \"wh\" is not configured in jobsd'"'"'s configuration"]]' \
  "$(api '
r = call("validate", text=open("drafts/draft.yaml").read(), name="draft.yaml")
print(json.dumps([[f["line"], f["col"], f["severity"], f["message"]] for f in r["findings"]]))')"
expect "validate wrote nothing" "$listing" "$(ls -l --time-style=full-iso jobs)"

# --- types
expect "types: each step type with its description and JSON Schema" "true true true" "$(api '
t = call("types")["types"]
out("shell" in [x["name"] for x in t], all(x["description"] for x in t),
    all(x["schema"].get("type") == "object" for x in t))')"

# --- health: the reasons of jobsctl check.
check=$("$jobsctl" check)
expect "health: not ok, with jobsctl check's reasons" \
  "false $(sed -E 's/^JOBS [A-Z]+ - //; s/ \| .*//' <<<"$check")" "$(api '
r = call("health")
out(r["ok"], "; ".join(r["reasons"]))')"
"$jobsctl" trigger broken --wait >/dev/null 2>&1 # still failing
cat > jobs/broken.yaml <<'YAML'
schedule: "0 0 1 1 *"
command: "true"
YAML
"$jobsctl" reload >/dev/null
"$jobsctl" trigger broken --wait >/dev/null 2>&1
expect "health: ok once the last runs are" "true []" \
  "$(api 'r = call("health"); out(r["ok"], r["reasons"])')"
# The job states unreadable (their table renamed away under jobsd): health says so rather than
# ok with every job "never ran", list gives the error, and jobsctl check the same reason.
rename_states() {
  python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
c.execute("ALTER TABLE %s RENAME TO %s" % (sys.argv[2], sys.argv[3]))
c.commit()' "$state/history.db" "$1" "$2"
}
rename_states job_state job_state_away
check=$("$jobsctl" check)
expect "health: the store unreadable is a reason, as jobsctl check gives it" \
  "false history store unreadable: | $(sed -E 's/^JOBS [A-Z]+ - //; s/ \| .*//' <<<"$check")" "$(api '
r = call("health")
out(r["ok"], r["reasons"][0][:len("history store unreadable:")], "|", "; ".join(r["reasons"]))')"
expect "list: the store's error, the jobs without a last status" "true [null]" "$(api '
r = call("list")
out(r["history_error"].startswith("history store"), sorted({j["last_status"] for j in r["jobs"]}, key=str))')"
expect "execution: the store unreadable is an internal error, not the request's" "internal" \
  "$(rename_states job_executions job_executions_away
     api "out(call('execution', execution='$last').split(':')[0])"
     rename_states job_executions_away job_executions)"
"$jobsctl" list >/dev/null 2>list.err
expect "jobsctl list says the last runs are unknown" "0 jobsctl: no last runs shown: history store" \
  "$? $(cut -c1-42 list.err)"
rename_states job_state_away job_state
expect "health: ok again once the store reads" "true []" \
  "$(api 'r = call("health"); out(r["ok"], r["reasons"])')"

# --- audit: admins only; latest first; paged; filtered.
expect "audit: latest first, paged, filtered by job and user" \
  "trigger broken ok | 1 | true true" "$(api '
a = call("audit", limit=1)
e = a["entries"][0]
b = call("audit", limit=1, cursor=a["next_cursor"])
j = call("audit", job="beta", limit=500)
u = call("audit", user="nobody-at-all")
out(e["action"], e["target"], e["outcome"], "|", len(b["entries"]), "|",
    len(j["entries"]) == 7 and all(x["target"] == "beta" for x in j["entries"]), u["entries"] == [])')"
rows=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from audit").fetchone()[0])' "$state/history.db")
as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && "${as_nobody[@]}" -c ''; then
  expect "audit: a reader who is not an admin is refused" \
    "denied: user nobody may not read audit: admins only" \
    "$("${as_nobody[@]}" - "$JOBS_SOCKET" <<<"$helpers"'out(call("audit"))')"
  expect "audit reads are not audited" "$rows" \
    "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from audit").fetchone()[0])' "$state/history.db")"
else
  echo "skip the audit check as nobody (needs root, setpriv and /usr/bin/python3)"
fi

# --- preview: jobsctl next's notes and errors.
notes=$("$jobsctl" next '30 2 14 3 *' --tz America/New_York -n 2 --json | python3 -c '
import json, sys
print(json.dumps([[f["utc"], f["local"], f["note"]] for f in json.load(sys.stdin)]))')
expect "preview: jobsctl next's fires and notes" "30 2 14 3 * America/New_York $notes" \
  "$(api '
r = call("preview", expr="30 2 14 3 *", timezone="America/New_York", count=2)
out(r["expr"], r["timezone"], [[f["utc"], f["local"], f["dst"]] for f in r["fires"]])')"
message=$("$jobsctl" next '61 * * * *' 2>&1 | head -1)
expect "preview: the parser's message, as jobsctl next prints it" \
  "${message#jobsctl: error: } | invalid" "$(api '
r = call("preview", expr="61 * * * *")
out(r.split(": ", 1)[1], "|", r.split(":")[0])')"
expect "preview: an unknown zone, too many fires" \
  'invalid | invalid: "count" must be between 1 and 100, got 101' "$(api '
out(call("preview", expr="@daily", timezone="Mars/Olympus").split(":")[0], "|",
    call("preview", expr="@daily", count=101))')"
expect "preview: 10 fires by default, in the default zone" "10 UTC" \
  "$(api 'r = call("preview", expr="@hourly"); out(len(r["fires"]), r["timezone"])')"

finish
