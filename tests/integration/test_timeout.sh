#!/usr/bin/env bash
# The default job timeout through the real programs: a jobsd whose jobsd.yaml says
# default_timeout: 2s stops a job without timeout and records it as timed out by the default; a
# job with timeout: none outlives it; jobsctl run honours the default and says it the same way;
# show, the socket's show and config say the limit and where it comes from; validate warns of a
# job left without a limit; migrate writes timeout: none for a crontab's lines.
#   test_timeout.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$1
jobsd=$2
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/daemon.sh"
new_work timeout

json() { # python expression on `j`, the JSON of standard input
  python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

# The field of the last execution of job $1.
last() {
  "$jobsctl" history "$1" --limit 1 --json | json "j[0][\"$2\"] if j else ''"
}

status_is() { [ "$(last "$1" status)" = "$2" ]; }

mkdir jobs
cat >jobsd.yaml <<'YAML'
jobs_dir: jobs
kill_grace: 1s
default_timeout: 2s
YAML
export JOBS_CONFIG=$work/jobsd.yaml
# Sleeps only this run starts, so that a look at the processes finds no other suite's.
cat >jobs/hang.yaml <<YAML
command: sleep 60.$$
YAML
cat >jobs/forever.yaml <<YAML
timeout: none
command: sleep 61.$$
YAML

# =================================================================================================
# jobsctl sees the limit that applies and where it comes from.
# =================================================================================================
expect "config: default_timeout from the file's line 3" \
  "default_timeout	2s	file $work/jobsd.yaml:3" "$("$jobsctl" config | grep '^default_timeout')"
"$jobsctl" show hang >show.out
expect "show: the limit that applies" "timeout: 2s" "$(grep '^timeout:' show.out)"
expect "show: where it comes from" \
  "# timeout: the daemon's default_timeout (file $work/jobsd.yaml:3)" "$(grep '^# timeout' show.out)"
expect "show --json: the limit and its origin" "2s default_timeout" \
  "$("$jobsctl" show hang --json | json 'j["timeout"], j["timeout_from"]' | tr -d "(),'")"
expect "show --json: timeout: none is the job's own" "none timeout" \
  "$("$jobsctl" show forever --json | json 'j["timeout"], j["timeout_from"]' | tr -d "(),'")"

# =================================================================================================
# validate: a job left without a limit is a warning (not an error) that says what it risks.
# =================================================================================================
out=$("$jobsctl" validate 2>&1)
expect "validate: timeout: none passes, with a warning" "0" "$?"
expect "validate: the warning, at the timeout" \
  "$work/jobs/forever.yaml:1:10: warning: \"timeout: none\": the job can run forever, and while it runs, concurrency forbid skips every later fire; give it a timeout such as 6h" \
  "$(grep -m1 'warning' <<<"$out")"
expect "validate: one warning (the default covers hang)" "2 jobs, 0 errors, 1 warning" \
  "$(tail -1 <<<"$out")"
"$jobsctl" validate --strict >/dev/null 2>&1
expect "validate --strict: the warning fails" "2" "$?"
printf '# no limit\ndefault_timeout: none\n' >none.yaml
out=$("$jobsctl" validate --config none.yaml jobs/hang.yaml 2>&1)
expect "validate: no timeout under default_timeout: none, a warning naming the configuration" \
  "jobs/hang.yaml:1:1: warning: no timeout, and default_timeout is none in none.yaml:2: the job can run forever, and while it runs, concurrency forbid skips every later fire; give it a timeout such as 6h" \
  "$(grep -m1 'warning' <<<"$out")"
printf 'concurrency: allow\ntimeout: none\ncommand: "true"\n' >allow.yaml
expect "validate: under concurrency allow, runs pile up" \
  "allow.yaml:2:10: warning: \"timeout: none\": the job can run forever, and runs that hang pile up under concurrency allow; give it a timeout such as 6h" \
  "$("$jobsctl" validate allow.yaml 2>&1 | grep -m1 warning)"

# =================================================================================================
# jobsctl run: the same default, the same record.
# =================================================================================================
"$jobsctl" run hang --json >run.json 2>run.err
expect "run: exits 5 (timed out) at the default" "5" "$?"
expect "run: the record says the default ran out" \
  "timeout the default_timeout of 2s ran out during step \"main\"" \
  "$(json 'j["status"] + " " + j["error_message"]' <run.json)"
expect "run: the step's message names the default" "the default_timeout of 2s ran out" \
  "$(json 'j["steps"][0]["error_message"]' <run.json)"

# =================================================================================================
# jobsd: the default stops a job without timeout; timeout: none is not stopped by it.
# =================================================================================================
"$jobsd" --config jobsd.yaml
expect "jobsd starts with default_timeout in its configuration" "0" "$?"
forever=$("$jobsctl" trigger forever --json | json 'j["execution_id"]')
wait_for 10 status_is forever running
expect "forever runs" "running" "$(last forever status)"
# hang starts after forever runs: when the default has stopped hang, forever has run longer.
"$jobsctl" trigger hang --wait >/dev/null 2>&1
expect "trigger --wait: hang exits 5 (timed out)" "5" "$?"
expect "jobsd: hang is recorded as timeout" "timeout" "$(last hang status)"
expect "jobsd: the record names the limit and where it comes from, as jobsctl run's does" \
  "the default_timeout of 2s ran out during step \"main\"" "$(last hang error_message)"
expect "jobsd: no sleep of hang remains" "0" "$(pgrep -c -f "^sleep 60\.$$\$")"
expect "jobsd: forever still runs after the default passed" "running" "$(last forever status)"
expect "jobsd: its sleep still runs" "1" "$(pgrep -c -f "^sleep 61\.$$\$")"
expect "socket show: the limit and its origin" "2s default_timeout none timeout" \
  "$(python3 - "$JOBS_SOCKET" <<'PY'
import json, socket, sys
out = []
for job in ("hang", "forever"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sys.argv[1])
    f = s.makefile("rb")
    f.readline()  # hello
    s.sendall(json.dumps({"v": 1, "id": 1, "cmd": "show", "args": {"job": job}}).encode() + b"\n")
    r = json.loads(f.readline())["result"]
    out += [r["timeout"], r["timeout_from"]]
    s.close()
print(*out)
PY
)"
"$jobsctl" cancel "$forever" >/dev/null
wait_for 15 status_is forever cancelled
expect "forever ends when cancelled" "cancelled" "$(last forever status)"

# =================================================================================================
# migrate: cron never stops a command, so the jobs say timeout: none, with a note.
# =================================================================================================
out=$(printf '0 3 * * * /usr/local/bin/backup\n' |
  "$jobsctl" migrate --dry-run --timezone UTC --crontab user --out out - 2>&1)
expect "migrate: the job says timeout: none" "timeout: none" "$(grep '^timeout:' <<<"$out")"
expect "migrate: the note says why" "1" \
  "$(grep -c "cron never stops a command; these jobs say timeout: none" <<<"$out")"

finish
