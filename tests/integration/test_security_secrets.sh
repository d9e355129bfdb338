#!/usr/bin/env bash
# Secrets against a real jobsd, driven by the real jobsctl (issue 16: item 10, and three lesser
# items of item 14):
#   1. ${secret.NAME} in a command step's argv or in a notification command's list, where every
#      local user reads it (/proc/PID/cmdline): validate and jobsd's findings warn at its place;
#      the job still loads and runs.
#   2. A secret of 2 bytes: validate refuses it, saying why; jobsd masks it all the same and
#      jobsd.log says why it should be longer.
#   3. A secret across the 64 KiB cuts of a long line, on stdout and on stderr: masked, however
#      the line is cut into pieces.
#   4. An http step: a URL holding CR/LF is refused before anything is logged (no log line is
#      split); a variable in a query name is expanded and percent-encoded, as in a value.
#   5. A recursive file copy of a folder holding a link out of allowed_paths copies the link as a
#      link, and nothing from outside.
#
#   test_security_secrets.sh JOBSCTL JOBSD   (JOBS_TEST_KEEP=1 keeps the temporary folder)
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
source "$here/runs.sh"
new_work secrets
mkdir jobs runs
export JOBS_LOG_DIR="$work/logs"
server_pid=""
cleanup_more() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; }

# pieces EXECUTION STEP STREAM: the pieces of STREAM (out or err) of STEP in the execution's log,
# joined: a long line's pieces make the line again.
pieces() {
  "$jobsctl" logs "$1" --step "$2" 2>&1 | sed -n "s/^[^ ]* \[$2\] $3: //p" | tr -d '\n'
}

exec {server_out}< <(exec python3 "$here/../support/raw_http_server.py" --log "$work/requests.jsonl")
server_pid=$!
read -r _ _ port <&"$server_out"
if [ -z "$port" ]; then
  echo "the HTTP server did not start"
  exit 1
fi

secret='Zq7-s3cr3t+/=v@l&ue'
pin=Q7
printf 'TOKEN=%s\nPIN=%s\n' "$secret" "$pin" > secrets
chmod 600 secrets
mkdir -p allowed/tree/sub outside
echo outside > outside/victim.txt
echo inside > allowed/tree/sub/a.txt
ln -s ../../../outside/victim.txt allowed/tree/sub/out.txt
ln -s /etc/shadow allowed/tree/shadow
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
secrets_file: $work/secrets
allowed_paths: [$work/allowed]
YAML

# ============================================================================================
# 1. A secret in argv: a warning at its place, and the job still loads.
cat > jobs/argv.yaml <<'YAML'
notify:
  on_success:
    - command: [true, "--token=${secret.TOKEN}"]
steps:
  - id: call
    type: command
    argv: [true, "--token=${secret.TOKEN}"]
YAML
validation=$("$jobsctl" validate --config jobsd.yaml jobs/argv.yaml 2>&1)
expect "validate: a secret in argv is a warning, not an error" "0" "$?"
why='is a command-line argument, which every local user can read (/proc/PID/cmdline, ps); pass it in the environment instead (env: {TOKEN: "${secret.TOKEN}"}, read as "$TOKEN") or in a file'
expect "validate: the warning of the step's argv, at its line:col" \
  "jobs/argv.yaml:7:27: warning: \${secret.TOKEN} in \"argv\" $why" \
  "$(grep -F 'argv.yaml:7:' <<<"$validation")"
expect "validate: the warning of the notification command, at its line:col" \
  "jobs/argv.yaml:3:32: warning: \${secret.TOKEN} in \"command\" $why" \
  "$(grep -F 'argv.yaml:3:' <<<"$validation")"
expect "validate: one job, no error, two warnings" "1 job, 0 errors, 2 warnings" \
  "$(tail -n 1 <<<"$validation")"
"$jobsctl" validate --strict --config jobsd.yaml jobs/argv.yaml > /dev/null 2>&1
expect "validate --strict: the warnings fail" "2" "$?"

# ============================================================================================
# 2. A secret of 2 bytes: refused by validate; masked all the same by jobsd.
cat > jobs/pin.yaml <<'YAML'
steps:
  - id: show
    type: shell
    run: 'echo "pin=${secret.PIN} and again ${secret.PIN}"; echo "pin=${secret.PIN}" >&2'
YAML
validation=$("$jobsctl" validate --config jobsd.yaml jobs/pin.yaml 2>&1)
expect "validate: a 2-byte secret is an error" "2" "$?"
expect "validate: the error says where and why" \
  'jobs/pin.yaml:4:21: error: secret "PIN" is 2 bytes long: a secret is masked as *** wherever its bytes appear, and bytes this few also appear in ordinary output, which would be masked too (and hint at the value); give it at least 3 bytes' \
  "$(grep -F 'pin.yaml:4:21:' <<<"$validation")"

"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state" \
  --log-dir "$work/logs"
expect "jobsd starts" "0" "$?"
wait_for 10 test -S "$work/jobsd.sock"
expect "jobsd.log: the secrets file's short secret, and why" "1" \
  "$(grep -c -F "$work/secrets: secret \"PIN\" is 2 bytes long: a secret is masked as *** wherever" \
    logs/jobsd.log)"
expect "jobsd.log: the warnings of the argv job at their line:col" "2" \
  "$(grep -c -F -e 'argv.yaml:7:27: warning: ${secret.TOKEN} in "argv" is a command-line' \
    -e 'argv.yaml:3:32: warning: ${secret.TOKEN} in "command" is a command-line' logs/jobsd.log)"

run argv > /dev/null
expect "the job with warnings loaded and ran" "success" "$(record argv 'r["status"]')"

exec_pin=$(run pin)
expect "a 2-byte secret is masked on stdout" "pin=*** and again ***" "$(pieces "$exec_pin" show out)"
expect "a 2-byte secret is masked on stderr" "pin=***" "$(pieces "$exec_pin" show err)"
expect "a 2-byte secret is in no log and not in the history store" "" \
  "$(grep -r -a -l -F "pin=$pin" "$state" logs)"

# ============================================================================================
# 3. A secret across the 64 KiB cut of a long line. Where a line is cut depends on how the pipe's
# reads fall, so each line holds the secret 50,000 times, 20 bytes apart: every cut, wherever it
# falls, is inside one with a chance of 9 in 10.
cat > jobs/straddle.yaml <<'YAML'
steps:
  - id: many
    type: shell
    run: |
      export S="${secret.TOKEN}"
      python3 -c 'import os, sys; sys.stdout.write("x" + ("x" + os.environ["S"]) * 50000 + "\n")'
      python3 -c 'import os, sys; sys.stderr.write(("x" + os.environ["S"]) * 50000 + "\n")'
YAML
"$jobsctl" reload > /dev/null 2>&1
exec_straddle=$(run straddle)
expect "the long lines ran" "success" "$(record straddle 'r["status"]')"
many=$(python3 -c 'print("x" + "x***" * 50000)')
expect "50,000 secrets in a line of 1 MB, cut wherever: every one masked (stdout)" "$many" \
  "$(pieces "$exec_straddle" many out)"
expect "50,000 secrets in a line of 1 MB, cut wherever: every one masked (stderr)" "${many:1}" \
  "$(pieces "$exec_straddle" many err)"

# ============================================================================================
# 4. http: a URL with CR/LF is refused before it is logged; a variable in a query name.
cat > jobs/http.yaml <<YAML
env:
  NAME: "a b&c=d"
steps:
  - id: crlf
    type: http
    url: "http://127.0.0.1:$port/x\r\nX-Evil: 1"
    continue_on_failure: true
  - id: query
    type: http
    url: http://127.0.0.1:$port/q
    query:
      "\${env.NAME}": "\${env.NAME}"
YAML
"$jobsctl" reload > /dev/null 2>&1
exec_http=$(run http)
expect "http: the URL with CR/LF is refused" \
  "failed|url \"http://127.0.0.1:$port/x\\r\\nX-Evil: 1\": a URL cannot contain a line break" \
  "$(record http 's["crlf"]["status"] + "|" + (s["crlf"]["error_message"] or "")')"
expect "http: no log line of the refused step begins with the smuggled header" "" \
  "$(grep -r -a -l '^X-Evil' "$state" logs)"
expect "http: a variable in a query name is expanded and percent-encoded" \
  "GET /q?a%20b%26c%3Dd=a%20b%26c%3Dd HTTP/1.1" \
  "$(python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("line", "").startswith("GET /q"):
        print(r["line"])' requests.jsonl)"
expect "http: the query step succeeded" "success" "$(record http 's["query"]["status"]')"

# ============================================================================================
# 5. A recursive copy of a folder with links out of allowed_paths: the links copied as links.
cat > jobs/copy.yaml <<YAML
steps:
  - type: file
    action: copy
    source: $work/allowed/tree
    destination: $work/allowed/copy/
    recursive: true
YAML
"$jobsctl" reload > /dev/null 2>&1
run copy > /dev/null
expect "file: the recursive copy succeeds" "success|" \
  "$(record copy 'r["status"] + "|" + (s["step-1"]["error_message"] or "")')"
expect "file: the files are copied, the links are copied as links" \
  "inside|../../../outside/victim.txt|/etc/shadow" \
  "$(cat allowed/copy/tree/sub/a.txt)|$(readlink allowed/copy/tree/sub/out.txt)|$(readlink allowed/copy/tree/shadow)"
expect "file: nothing from outside was copied in" "" \
  "$(find allowed/copy -type f -exec grep -l -x outside {} +)"

stop_daemon "$state"
expect "jobsd stops" "0" "$?"
expect "the secret is in no file of the state and log folders" "" \
  "$(grep -r -a -l -F "$secret" "$state" logs)"
finish
