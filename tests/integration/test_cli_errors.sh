#!/usr/bin/env bash
# What jobsctl says of a command line it cannot use, through the real binaries: a mistyped verb,
# option or job id gets the nearest one, on one line beginning "jobsctl: ", exit 2; help [VERB]
# and version; and the names one idea has across verbs (-n/--limit, --tz, -f/--follow, several
# jobs), the older spellings still accepted. Offline first, then through a running jobsd.
#
#   test_cli_errors.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/daemon.sh"
new_work cli-errors
export JOBS_DIR=$work/jobs
mkdir jobs
for id in nightly-report clock-tokyo spare-one spare-two; do
  printf '%s\n' 'schedule: "30 2 * * *"' 'steps: [{ id: say, type: shell, run: echo hello }]' \
    > "jobs/$id.yaml"
done

# run_cli ARG...: jobsctl's standard error, then "exit N"; standard output in $work/out.
run_cli() {
  "$jobsctl" "$@" 2>"$work/err" >"$work/out" </dev/null
  local code=$?
  cat "$work/err"
  echo "exit $code"
}

# Verbs and options.
expect "a mistyped verb gets the nearest" \
  $'jobsctl: unknown command "histroy"; did you mean "history"?\nexit 2' "$(run_cli histroy)"
expect "lsit -> list" $'jobsctl: unknown command "lsit"; did you mean "list"?\nexit 2' \
  "$(run_cli lsit --json)"
expect "a verb far from all of them" \
  $'jobsctl: unknown command "xyzzy" (jobsctl help lists them)\nexit 2' "$(run_cli xyzzy)"
expect "no verb" $'jobsctl: no command given (jobsctl help lists them)\nexit 2' "$(run_cli)"
expect "a verb's own verb" \
  $'jobsctl: unknown command "connections tset"; did you mean "connections test"?\nexit 2' \
  "$(run_cli connections tset)"
expect "a mistyped option gets the nearest" \
  $'jobsctl: unknown option --jsno; did you mean --json?\nexit 2' "$(run_cli list --jsno)"
expect "an option with its value" \
  $'jobsctl: unknown option --stauts; did you mean --status?\nexit 2' \
  "$(run_cli history --stauts=failed)"
expect "an option far from all of them" \
  $'jobsctl: unknown option --zz of list (jobsctl help list lists them)\nexit 2' \
  "$(run_cli list --zz)"
expect "an unknown option before a missing operand" \
  $'jobsctl: unknown option --jsno; did you mean --json?\nexit 2' "$(run_cli run --jsno)"
expect "a missing operand, after the verb's name" \
  $'jobsctl: run: job is required (jobsctl help run shows the usage)\nexit 2' "$(run_cli run)"
expect "one argument too many" \
  $'jobsctl: unexpected argument "extra" (jobsctl help list shows the usage)\nexit 2' \
  "$(run_cli list extra)"
# Every message the parser makes: one line, "jobsctl: ", exit 2.
for line in "next" "history --limit x" "history --limit -1" "new x --format xml" \
  "completion tcsh" "-x" "logs" "help lsit"; do
  read -ra args <<<"$line"
  out=$(run_cli "${args[@]}")
  expect "jobsctl $line: one line with the prefix, exit 2" "jobsctl: ... exit 2" \
    "$(sed -n '1s/^\(jobsctl: \).*/\1.../p' <<<"$out") $(sed -n '2p' <<<"$out")"
done

# help and version.
"$jobsctl" --help > "$work/help.expected"
expect "help is --help" "exit 0" "$(run_cli help)"
expect "help prints --help's text" "" "$(diff "$work/help.expected" "$work/out")"
"$jobsctl" history --help > "$work/help.expected"
expect "help history" "exit 0" "$(run_cli help history)"
expect "help history prints history --help's text" "" "$(diff "$work/help.expected" "$work/out")"
"$jobsctl" connections test --help > "$work/help.expected"
expect "help connections test" "exit 0" "$(run_cli help connections test)"
expect "help connections test prints its --help" "" "$(diff "$work/help.expected" "$work/out")"
expect "help of a mistyped verb" \
  $'jobsctl: unknown command "histroy"; did you mean "history"?\nexit 2' "$(run_cli help histroy)"
expect "help of a word past a verb without subcommands" \
  $'jobsctl: history has no subcommands, so no "extra" (jobsctl help history shows its usage)\nexit 2' \
  "$(run_cli help history extra)"
for spelling in version -v --version; do
  expect "jobsctl $spelling" "exit 0" "$(run_cli $spelling)"
  expect "jobsctl $spelling prints the version" "yes" \
    "$(grep -qxE 'jobsctl [0-9]+\.[0-9]+\.[0-9]+' "$work/out" && echo yes || cat "$work/out")"
done
expect "jobsd --version" "yes" \
  "$("$jobsd" --version | grep -qxE 'jobsd [0-9]+\.[0-9]+\.[0-9]+' && echo yes || echo no)"

# Job ids, without a daemon.
near=$'; did you mean "nightly-report"?\nexit 2'
expect "run" "jobsctl: no job \"nightly-reprot\" in $JOBS_DIR$near" "$(run_cli run nightly-reprot)"
expect "show" "jobsctl: no job \"nightly-reprot\" in $JOBS_DIR$near" \
  "$(run_cli show nightly-reprot)"
expect "disable" "jobsctl: no job \"nightly-reprot\" in $JOBS_DIR$near" \
  "$(run_cli disable nightly-reprot)"
expect "delete" "jobsctl: no job \"nightly-reprot\" in $JOBS_DIR; did you mean \"nightly-report\"?; nothing deleted"$'\nexit 2' \
  "$(run_cli delete spare-one nightly-reprot --yes)"
expect "delete deleted nothing" "yes" "$([ -e jobs/spare-one.yaml ] && echo yes)"
expect "next" "jobsctl: no job \"nightly-reprot\" in $JOBS_DIR$near" "$(run_cli next nightly-reprot)"
"$jobsctl" run nightly-report > /dev/null
expect "logs" "jobsctl: no execution of \"nightly-reprot\" in the history$near" \
  "$(run_cli logs nightly-reprot)"
expect "logs of a word far from all jobs" \
  $'jobsctl: no execution of "zzz" in the history (an execution id or a job id)\nexit 2' \
  "$(run_cli logs zzz)"
expect "history" "jobsctl: no execution of \"nightly-reprot\" in the history$near" \
  "$(run_cli history nightly-reprot)"
expect "history of a job with no execution: empty" "exit 0" "$(run_cli history clock-tokyo)"

# One name per idea; the older spellings still work.
for spelling in -n --limit --count; do
  expect "next $spelling 2" "exit 0" "$(run_cli next '0 0 * * *' --from 2026-01-01T00:00Z $spelling 2)"
  expect "next $spelling 2: two fires" "2" "$(wc -l < "$work/out")"
  expect "history $spelling 1" "exit 0" "$(run_cli history $spelling 1)"
  expect "history $spelling 1: one execution" "1" "$(wc -l < "$work/out")"
done
for spelling in --tz --timezone; do
  expect "next $spelling" "exit 0" \
    "$(run_cli next '0 0 * * *' --from 2026-01-01T00:00Z -n 1 $spelling Asia/Tokyo)"
  expect "next $spelling: in that zone" "Fri 2026-01-02 00:00:00 +09:00 JST" "$(cut -f1 "$work/out")"
  printf '0 3 * * * root echo hi\n' > "$work/crontab"
  expect "migrate $spelling" "exit 0" \
    "$(run_cli migrate --dry-run --crontab system $spelling Asia/Tokyo "$work/crontab" | tail -n 1)"
  expect "migrate $spelling: in that zone" "timezone: Asia/Tokyo" \
    "$(grep -x 'timezone: Asia/Tokyo' "$work/out")"
done
expect "delete takes several jobs" $'exit 0' "$(run_cli delete spare-one spare-two --yes)"
expect "delete: both files" "deleted $JOBS_DIR/spare-one.yaml deleted $JOBS_DIR/spare-two.yaml" \
  "$(paste -sd' ' "$work/out")"

# Through jobsd.
printf 'socket: %s\n' "$JOBS_SOCKET" > jobsd.yaml
if "$jobsd" --config jobsd.yaml --jobs-dir "$JOBS_DIR" --state-dir "$state"; then
  expect "trigger, through jobsd" "jobsctl: no job \"nightly-reprot\" in $JOBS_DIR$near" \
    "$(run_cli trigger nightly-reprot)"
  expect "logs, through jobsd" \
    $'jobsctl: no execution or job "nightly-reprot"; did you mean "nightly-report"?\nexit 2' \
    "$(run_cli logs nightly-reprot)"
  expect "history, through jobsd" "jobsctl: no execution of \"nightly-reprot\" in the history$near" \
    "$(run_cli history nightly-reprot)"
  for spelling in -f --follow; do
    expect "trigger $spelling exits with the job's status" "exit 0" \
      "$(run_cli trigger nightly-report $spelling)"
    expect "trigger $spelling prints the steps' output" "  say | hello" \
      "$(grep -F 'say |' "$work/out")"
  done
  expect "history -n through jobsd" "exit 0" "$(run_cli history -n 2)"
  expect "history -n 2 through jobsd: two executions" "2" "$(wc -l < "$work/out")"
else
  expect "jobsd starts" "0" "$?"
fi

finish
