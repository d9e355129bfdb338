#!/usr/bin/env bash
# JSON as a contract: every verb's --json output, through jobsd and from the files and the store,
# has the keys the JSON OUTPUT section of jobsctl(1) lists, in that order and of those types,
# with null (never "") for what is missing, and the same paths either way; every verb with
# --json has an entry there, and every entry is checked here (json_contract.py).
#
#   test_json_contract.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
man=$here/../../man/jobsctl.1
source "$here/expect.sh"
source "$here/daemon.sh"
new_work json
export TZ=UTC

mkdir jobs
cat > jobs/nightly.yaml <<'YAML'
schedule: "0 3 * * *"
timezone: Europe/Berlin
steps:
  - {id: one, type: shell, run: "echo hello; echo oops >&2"}
YAML
cat > jobs/tick.yaml <<'YAML'
schedule: "* * * * * *"
command: "true"
YAML
# Runs until the file go exists (at most 20 s), saying so first.
cat > jobs/hold.yaml <<YAML
schedule: "0 0 1 1 *"
command: "echo waiting; for i in \$(seq 200); do [ -e $work/go ] && exit 0; sleep 0.1; done; exit 1"
YAML
printf 'schedule: "0 3 * * *"\nsteps:\n  - {id: a, type: shell, run: "exit 1"\n' > jobs/broken.yaml
python3 -c 'import sqlite3; sqlite3.connect("app.db").close()'
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
connections:
  app:
    type: sqlite
    path: app.db
  gone:
    type: sqlite
    path: no/such/folder/gone.db
YAML

# contract ENTRY ARG...: runs jobsctl ARG... and checks its standard output against the entry
# ENTRY of JSON OUTPUT; prints "ok" or what differs.
contract() {
  local entry=$1
  shift
  "$jobsctl" "$@" >out.json 2>err.txt
  contract_of "$entry" out.json
}
# contract_of ENTRY FILE: the same for output already in FILE.
contract_of() {
  echo "$1" >>checked
  if python3 "$here/json_contract.py" "$man" check "$1" <"$2" >check.txt 2>&1; then
    echo ok
  else
    head -c 2000 check.txt
    echo "(output: $(head -c 300 "$2"))"
  fi
}
# json EXPR < FILE: EXPR of the JSON document j, as JSON.
json() { python3 -c 'import json, sys; j = json.load(sys.stdin); print(json.dumps(eval(sys.argv[1])))' "$1"; }

# =================================================================================================
# Without jobsd: the files, the configuration and the history store.
# =================================================================================================
expect "validate --json" ok "$(contract validate validate --json --jobs-dir jobs)"
"$jobsctl" validate --format json --jobs-dir jobs >format.json
expect "validate --format json is --json" "$(cat out.json)" "$(cat format.json)"
expect "validate --json: a finding's path is absolute" "\"$work/jobs/broken.yaml\"" \
  "$(head -1 out.json | json 'j["path"]')"
expect "list --json, from the files" ok "$(contract list list --json --jobs-dir jobs)"
cp out.json list-files.json
expect "list --json: null for no last status and no activity" "[null, null, null]" \
  "$(json '[[x["last_status"], x["last_success"], x["active"]] for x in j if x["id"] == "tick"][0]' <out.json)"
expect "show --json" ok "$(contract show show --json nightly --jobs-dir jobs)"
expect "next --json" ok "$(contract next next --json nightly --jobs-dir jobs)"
expect "run --json" ok "$(contract run run --json nightly --jobs-dir jobs)"
expect "run --json: null for no scheduled time and no error" "[null, null]" \
  "$(json '[j["scheduled_time"], j["error_message"]]' <out.json)"
expect "run --json: the log's path absolute from a relative state folder" ok \
  "$(JOBS_STATE_DIR=relative contract run run --json nightly --jobs-dir jobs)"
expect "history --json, from the store" ok "$(contract history history --json)"
cp out.json history-store.json
expect "logs --json, from the store and the log file" ok "$(contract logs logs --json nightly)"
expect "logs --json: the lines and the execution" '["[one] out: hello", "success"]' \
  "$(json '[[l.split(" ", 1)[1] for l in j["lines"] if "out:" in l][0], j["execution"]["status"]]' <out.json)"
expect "stats --json, from the store" ok "$(contract stats stats --json)"
expect "connections list --json" ok \
  "$(contract "connections list" connections list --json --config jobsd.yaml)"
expect "connections test --json" ok \
  "$(contract "connections test" connections test --json --config jobsd.yaml)"
expect "config --json" ok "$(contract config config --json --config jobsd.yaml)"

# =================================================================================================
# Through jobsd: the same shapes, the same paths.
# =================================================================================================
"$jobsd" --config "$work/jobsd.yaml" --jobs-dir jobs --state-dir "$state"
expect "jobsd starts" "0" "$?"
tick_ran() { [ "$("$jobsctl" history tick --json | json 'len(j)')" -gt 0 ]; }
wait_for 10 tick_ran
expect "tick fires" "0" "$?"

expect "list --json, through jobsd" ok "$(contract list list --json)"
expect "list --json: the same paths through jobsd as from the files" \
  "$(json 'sorted(x["path"] for x in j)' <list-files.json)" "$(json 'sorted(x["path"] for x in j)' <out.json)"
expect "list --json: the same keys through jobsd as from the files" \
  "$(json '[list(x) for x in j][0]' <list-files.json)" "$(json '[list(x) for x in j][0]' <out.json)"

expect "trigger --json" ok "$(contract trigger trigger --json hold)"
held=$(json 'j["execution_id"]' <out.json | tr -d '"')
running() { [ "$("$jobsctl" status --json | json "[x['execution_id'] for x in j['running']]")" = "[\"$1\"]" ]; }
wait_for 10 running "$held"
expect "hold runs" "0" "$?"
expect "schedule --json" ok "$(contract schedule schedule --json nightly --at 2099-01-01T00:00Z)"
expect "pause --json" ok "$(contract pause pause --json tick --until 1h --reason "for the test")"
expect "status --json: running, scheduled, paused and file errors" ok \
  "$(contract status status --json)"
expect "status --json has each list filled" "[1, 1, 1, 1]" \
  "$(json '[len(j["running"]), len(j["scheduled"]), len(j["paused"]), len(j["reload"]["errors"])]' <out.json)"

# logs -f: its lines as they come, then its record as it ends.
timeout 30 "$jobsctl" logs -f --json "$held" >follow.json 2>follow.err &
follower=$!
wait_for 10 grep -q waiting follow.json
expect "logs -f --json: a line while it runs" "0" "$?"
touch go
wait "$follower"
expect "logs -f --json ends with the execution" "0" "$?"
expect "logs -f --json" ok "$(contract_of "logs -f" follow.json)"
expect "logs -f --json: its last object is the record" '[null, "success"]' \
  "$(tail -1 follow.json | json '[j["line"], j["execution"]["status"]]')"

rm go
"$jobsctl" trigger --json hold >held.json
held=$(json 'j["execution_id"]' <held.json | tr -d '"')
wait_for 10 running "$held"
expect "cancel --json" ok "$(contract cancel cancel --json "$held")"
expect "trigger --wait --json" ok "$(contract "trigger --wait" trigger --wait --json nightly)"
expect "history --json, through jobsd" ok "$(contract history history --json)"
skipped() { [ "$("$jobsctl" history tick --status skipped --json | json 'len(j)')" -gt 0 ]; }
wait_for 10 skipped
expect "a paused job's fires are skipped" "0" "$?"
expect "history --status skipped --json" ok \
  "$(contract history history tick --status skipped --json)"
expect "logs --json, through jobsd" ok "$(contract logs logs --json nightly)"
expect "stats --json, through jobsd" ok "$(contract stats stats --json)"
expect "reload --json" ok "$(contract reload reload --json)"
expect "resume --json" ok "$(contract resume resume --json tick)"
expect "token create --json" ok "$(contract "token create" token create --json ci --role viewer)"
expect "token list --json" ok "$(contract "token list" token list --json)"
expect "token revoke --json" ok "$(contract "token revoke" token revoke --json ci)"

# =================================================================================================
# The list and the verbs: every verb with --json has an entry, every entry was checked.
# =================================================================================================
"$jobsctl" --help >help.txt
verbs=$(awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ { on = 0 }' help.txt)
python3 "$here/json_contract.py" "$man" entries >entries.txt
missing=
for verb in $verbs; do
  subs=$("$jobsctl" "$verb" --help | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ { on = 0 }')
  commands=("$verb")
  if [ -n "$subs" ]; then
    commands=()
    for sub in $subs; do
      commands+=("$verb $sub")
    done
  fi
  for command in "${commands[@]}"; do
    # shellcheck disable=SC2086
    if grep -q -- '--json' <<<"$("$jobsctl" $command --help)" && ! grep -qx "$command" entries.txt; then
      missing+="$command; "
    fi
  done
done
expect "every verb with --json has an entry in JSON OUTPUT" "" "$missing"
unchecked=$(sort -u checked | comm -13 - <(sort -u entries.txt) | tr '\n' ';')
expect "every entry of JSON OUTPUT is checked here" "" "$unchecked"

finish
