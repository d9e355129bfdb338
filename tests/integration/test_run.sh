#!/usr/bin/env bash
# jobsctl run, history and logs through the real binary: live output, exit codes per status,
# Ctrl-C, secrets kept out of every file and output, and what the history store recorded.
set -uo pipefail
jobsctl=$1
work=$(mktemp -d /tmp/jobs-run-XXXXXX)
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/daemon.sh"
cd "$work"
mkdir jobs
export JOBS_DIR=jobs JOBS_STATE_DIR="$work/state"

cat > jobs/three.yaml <<'YAML'
name: Three steps
steps:
  - id: greet
    type: shell
    run: echo "hello from ${job.id}"; echo "a warning" >&2
  - id: list
    type: command
    argv: [printf, "%s\n", "${steps.greet.output}"]
  - id: broken
    type: shell
    run: echo trying; exit 3
    continue_on_failure: true
  - id: report
    type: shell
    when: always
    run: echo "broken ended ${steps.broken.status} (exit ${steps.broken.exit_code})"
YAML

out=$("$jobsctl" run three)
expect "partial_success exits 4" "4" "$?"
expect "live output: stdout lines" "  greet | hello from three" "$(grep -m1 'greet |' <<<"$out")"
expect "live output: stderr lines" "  greet ! a warning" "$(grep -m1 'greet !' <<<"$out")"
expect "live output: the failed step" "x broken failed (exit code 3)" \
  "$(grep -m1 '^x ' <<<"$out" | sed 's/ in .*//')"
expect "live output: the always step saw it" "  report | broken ended failed (exit 3)" \
  "$(grep -m1 'report |' <<<"$out")"
expect "summary" "partial_success: 4 steps (3 succeeded, 1 failed, 0 skipped)" \
  "$(tail -1 <<<"$out" | sed 's/ in .*//')"
id=$(tail -1 <<<"$out" | sed 's/.*execution //')

expect "history shows it" "$id three partial_success 1 manual" \
  "$("$jobsctl" history | awk -F'\t' '{print $1, $2, $3, $6, $7}')"
expect "history --json" "partial_success root" \
  "$("$jobsctl" history --json | python3 -c 'import json,sys; e=json.load(sys.stdin)[0]; print(e["status"], e["triggered_by"])')"
expect "logs of the job: every step's lines" "4 4" \
  "$("$jobsctl" logs three | grep -c '=== step') $("$jobsctl" logs three | grep -c -- '--- step')"
expect "logs --step" "[broken] out: trying" "$("$jobsctl" logs three --step broken | grep -o '\[broken\] out: .*')"
expect "logs by execution prefix --grep" "[report] out: broken ended failed (exit 3)" \
  "$("$jobsctl" logs "${id:0:12}" --grep ended | grep -o '\[report\].*')"
expect "jobs.jsonl record" "three partial_success $id 3" \
  "$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readlines()[-1]); print(r["job_name"].split()[0].lower(), r["status"], r["execution_id"], r["exit_code"])' state/logs/jobs.jsonl | sed 's/^three/three/')"

# --json: the result alone on stdout.
json=$("$jobsctl" run three --json 2>/dev/null)
expect "run --json" "partial_success success,success,failed,success" \
  "$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["status"], ",".join(s["status"] for s in r["steps"]))' <<<"$json")"

# Exit codes: failed 1, timeout 5; --no-record writes no history.
printf 'steps:\n  - {id: a, type: shell, run: "exit 1"}\n' > jobs/fails.yaml
"$jobsctl" run fails >/dev/null
expect "failed exits 1" "1" "$?"
printf 'timeout: 1s\nsteps:\n  - {id: a, type: shell, run: "sleep 30"}\n' > jobs/slow.yaml
"$jobsctl" run slow >/dev/null
expect "timeout exits 5" "5" "$?"
before=$("$jobsctl" history --limit 0 | wc -l)
"$jobsctl" run fails --no-record >/dev/null
expect "--no-record records nothing" "$before" "$("$jobsctl" history --limit 0 | wc -l)"
expect "history --status" "fails" "$("$jobsctl" history --status failed | cut -f2)"
expect "history --since a duration" "$before" "$("$jobsctl" history --limit 0 --since 1h | wc -l)"
expect "history --since a later time" "0" "$("$jobsctl" history --since 2099-01-01T00:00 | wc -l)"
expect "history --since nonsense" "2" "$("$jobsctl" history --since soon >/dev/null 2>&1; echo $?)"

# Ctrl-C cancels: the process group is killed and the run is recorded as cancelled.
cat > jobs/wait.yaml <<YAML
steps:
  - {id: a, type: shell, run: "sleep 300 & echo \$! > $work/pid; echo ready; wait"}
YAML
"$jobsctl" run wait > "$work/wait.out" 2>&1 &
runner=$!
wait_for 10 grep -q ready "$work/wait.out"
kill -INT "$runner"
wait "$runner"
expect "Ctrl-C exits 130" "130" "$?"
expect "recorded as cancelled" "cancelled" "$("$jobsctl" history wait | cut -f3)"
expect "no process left" "gone" "$(kill -0 "$(cat "$work/pid")" 2>/dev/null && echo alive || echo gone)"

# SIGKILL of the runner mid-execution: the store still opens, the execution is there, begun
# and not half-written (it stays "running" until a daemon start marks it interrupted).
rm -f "$work/pid" "$work/wait.out"
"$jobsctl" run wait > "$work/wait.out" 2>&1 &
runner=$!
wait_for 10 grep -q ready "$work/wait.out"
{ kill -KILL "$runner" && wait "$runner"; } 2>/dev/null
expect "after SIGKILL the execution is recorded as begun" "running" \
  "$("$jobsctl" history wait --limit 1 | cut -f3)"
expect "and its log has the lines so far" "[a] out: ready" "$("$jobsctl" logs wait | grep -o '\[a\] out: ready')"
expect "the store is intact" "ok" \
  "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("pragma integrity_check").fetchone()[0])' state/history.db)"
kill "$(cat "$work/pid")" 2>/dev/null # the step's orphan: a daemon start sweeps these (not yet)

# Secrets: given through the environment, used by the step, never written or printed.
printf 'steps:\n  - {id: a, type: shell, run: "echo token=${secret.API_TOKEN}"}\n' > jobs/secret.yaml
out=$(API_TOKEN=s3cr3t-t0ken "$jobsctl" run secret)
expect "the step saw the secret (redacted in its output)" "  a | token=***" "$(grep '|' <<<"$out")"
expect "the secret is in no file of the state folder" "" "$(grep -r -l s3cr3t-t0ken state)"
expect "nor in history or logs output" "0" \
  "$({ "$jobsctl" history --json; "$jobsctl" logs secret; } | grep -c s3cr3t-t0ken)"
out=$("$jobsctl" run secret 2>&1)
expect "a missing secret fails the step" "x a failed (secret \"API_TOKEN\" is not set (give it in the environment or the secrets file))" \
  "$(grep '^x ' <<<"$out" | sed 's/ in [0-9.]*s$//')"

# An invalid job is not run.
printf 'steps:\n  - {id: a, type: shell, run: "echo ${job.nmae}"}\n' > jobs/bad.yaml
out=$("$jobsctl" run bad 2>&1)
expect "invalid job exits 2" "2" "$?"
expect "with its place" 'jobs/bad.yaml:2:37: error: unknown variable "job.nmae"; did you mean "job.name"?' \
  "$(head -1 <<<"$out")"
expect "logs of an unknown job" "2" "$("$jobsctl" logs nothing >/dev/null 2>&1; echo $?)"

# 200 MB of output: the runner's memory stays flat, the stored output and the log bounded.
cat > jobs/big.yaml <<'YAML'
steps:
  - id: big
    type: shell
    run: for i in 1 2; do head -c 100000000 /dev/zero | tr '\0' x; echo; done; echo the end
YAML
/usr/bin/time -f %M -o "$work/rss" "$jobsctl" run big > /dev/null
expect "200 MB of output succeeds" "0" "$?"
if [ "${JOBS_SANITIZED:-0}" = 1 ]; then
  echo "skip peak RSS of jobsctl (ASan's shadow memory and quarantine make it meaningless)"
else
  expect "peak RSS of jobsctl under 64 MB" "yes" \
    "$([ "$(cat "$work/rss")" -lt 65536 ] && echo yes || echo "no: $(cat "$work/rss") KB")"
fi
expect "the log is bounded and ends with the output's end" "yes [big] out: the end" \
  "$([ "$(stat -c %s "$(ls state/logs/big/*.log)")" -lt 4000000 ] && echo yes) $("$jobsctl" logs big | grep -F '[big] out:' | tail -1 | cut -d' ' -f2-)"
expect "the stored output is bounded" "yes" \
  "$(python3 -c 'import sqlite3,sys; n=sqlite3.connect(sys.argv[1]).execute("select max(length(output)) from step_executions").fetchone()[0]; print("yes" if n < 1100000 else n)' state/history.db)"

# A log that cannot be written is said once and does not fail the job.
mkdir -p "$work/broken" && touch "$work/broken/logs"
out=$(JOBS_STATE_DIR="$work/broken" "$jobsctl" run three 2>&1)
expect "the job still runs" "4" "$?"
expect "the log problem is said once" "1" "$(grep -c 'cannot write the log' <<<"$out")"

if finish; then
  rm -rf "$work"
else
  echo "kept $work"
  exit 1
fi
