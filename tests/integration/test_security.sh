#!/usr/bin/env bash
# Security checks against a real jobsd running as root, driven by the real jobsctl:
#   1. run_as drops privileges: the uids, gids, supplementary groups and capabilities of shell,
#      command and powershell steps and of a notification command, the HOME/USER/LOGNAME of the
#      steps; no descriptor of jobsd (history store, socket, logs) reaches a step.
#   2. A secret used in an env value, an argv item, an http bearer token, header, query and body,
#      a webhook URL and a notification command, and echoed by a failing step, is in no file of
#      the state and log folders and in no jobsctl output: not raw, not base64, not percent-encoded.
#   3. file steps cannot leave allowed_paths: "..", absolute paths, symlinks inside pointing out
#      (as source, as destination, in the middle of a path, as an overwritten file), globs, for
#      copy, move, delete and archive. Each is refused, saying why, and nothing outside changes.
#   4. A variable holding shell, SQL, header and URL syntax stays data in shell and command steps,
#      SQLite statements, http headers, URLs and query strings, webhook URLs, notification commands
#      and PowerShell steps (a fake pwsh records what it was given): no canary file appears.
# The socket's mode and permissions are test_daemon_socket.sh's; the secrets of sql and
# azure_devops steps test_pipeline.sh's.
#
#   test_security.sh JOBSCTL JOBSD   (as root, else exit 77: skipped; JOBS_TEST_KEEP=1 keeps the
#                                     temporary folder)
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
source "$here/runs.sh"
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: test_security.sh needs root (run_as, and jobsd as root)"
  exit 77
fi
new_work security
mkdir jobs bin runs canary allowed outside
mkdir -m 1777 drop pwsh
server_pid=""
cleanup_more() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; }

# A YAML double-quoted scalar holding exactly $1 (JSON's escapes are YAML's).
q() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }

# out EXECUTION STEP: the standard output lines of STEP in the execution's log.
out() {
  "$jobsctl" logs "$1" --step "$2" 2>&1 | sed -n "s/^[^ ]* \[$2\] out: //p"
}

sql() {
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
for row in db.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
}

# --- the servers and the daemon
exec {server_out}< <(exec python3 "$here/../support/raw_http_server.py" --log "$work/requests.jsonl")
server_pid=$!
read -r _ _ port <&"$server_out"
if [ -z "$port" ]; then
  echo "the HTTP server did not start"
  exit 1
fi

secret='Zq7-s3cr3t+/=v@l&ue'
printf 'TOKEN=%s\n' "$secret" > secrets
chmod 600 secrets
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("app.db")
db.execute("CREATE TABLE t (v TEXT)")
db.execute("INSERT INTO t VALUES ('seed')")
db.commit()
PY

cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
grace_period: 2s
kill_grace: 1s
secrets_file: $work/secrets
connections:
  app: { type: sqlite, path: $work/app.db }
allowed_paths: [$work/allowed]
YAML

# The probe every run_as process runs: its ids, groups, capabilities, identity variables and
# open descriptors (those of `ls` itself, reading /proc/self/fd, left out).
cat > bin/probe <<'SH'
#!/bin/sh
status() { sed -n "s/^$1:[[:space:]]*//p" /proc/self/status | tr -s ' \t' ' ' | sed 's/ $//'; }
echo "uid $(status Uid)"
echo "gid $(status Gid)"
echo "groups $(status Groups | tr ' ' '\n' | sort -n | xargs)"
echo "caps $(status CapInh) $(status CapPrm) $(status CapEff) $(status CapAmb)"
echo "capbnd $(status CapBnd) nonewprivs $(status NoNewPrivs)"
echo "id $(id)"
echo "env HOME=${HOME-unset} USER=${USER-unset} LOGNAME=${LOGNAME-unset}"
echo "fds $(ls -l /proc/self/fd | awk 'NR > 1 && $NF !~ "^/proc/[0-9]+/fd$" { printf "%s->%s ", $(NF-2), $NF }')"
SH
# A fake pwsh: records its argv, its standard input, the script file it was given with -File,
# the variables its script could read, and who runs it. It runs nothing it was given.
cat > bin/pwsh <<SH
#!/bin/sh
d=\$(mktemp -d $work/pwsh/call-XXXXXX)
for a in "\$@"; do printf '%s\\0' "\$a"; done > "\$d/argv"
cat > "\$d/stdin"
env -0 > "\$d/env"
prev=""
for a in "\$@"; do
  [ "\$prev" = -File ] && cp "\$a" "\$d/file"
  prev=\$a
done
$work/bin/probe > "\$d/probe"
SH
chmod 755 bin/probe bin/pwsh

# The daemon's own environment, so that a step's HOME/USER/LOGNAME can be told apart: root's.
# Started with no descriptor but 0, 1 and 2 (python closes the others), so that every other
# descriptor a step has is one jobsd opened.
start_daemon() {
  env PATH="$work/bin:$PATH" HOME=/root USER=root LOGNAME=root python3 -c '
import subprocess, sys
sys.exit(subprocess.run(sys.argv[1:], close_fds=True).returncode)' \
    "$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state"
}

# ============================================================================================
# 1. run_as drops privileges
# A user of this test's own, with a primary group and two supplementary groups.
tag=$$
user="jsec$tag"
if groupadd "jsecp$tag" && groupadd "jseca$tag" && groupadd "jsecb$tag"; then
  made_groups+=("jsecp$tag" "jseca$tag" "jsecb$tag")
  if useradd -M -N -g "jsecp$tag" -G "jseca$tag,jsecb$tag" -d "/nonexistent-$user" \
    -s /usr/sbin/nologin "$user"; then
    made_users+=("$user")
  fi
fi
users=(nobody)
if [ "${#made_users[@]}" -eq 1 ]; then
  users+=("$user")
else
  echo "note: useradd/groupadd failed: the checks of a user with supplementary groups are left out"
fi

for u in "${users[@]}"; do
  cat > "jobs/as-$u.yaml" <<YAML
run_as: $u
notify:
  on_success:
    - command: [sh, -c, '$work/bin/probe > $work/drop/notify-$u']
steps:
  - { id: shell, type: shell, run: $work/bin/probe }
  - { id: command, type: command, argv: [$work/bin/probe] }
  - { id: second, type: shell, run: 'sh $work/bin/probe' }
  - { id: pwsh, type: powershell, script: 'Write-Output probe' }
  - id: forge
    type: shell
    run: |
      for f in /proc/self/fd/*; do
        n=\${f##*/}
        [ "\$n" -gt 2 ] 2>/dev/null && { echo "forged by $u" >&"\$n"; } 2>/dev/null
      done
      true
YAML
done
cat > jobs/as-root.yaml <<YAML
steps:
  - { id: shell, type: shell, run: $work/bin/probe }
YAML

start_daemon
expect "jobsd starts" "0" "$?"

# What probe prints when it runs as user $1: ids from passwd, groups from the group database.
expected_probe() {
  local uid gid groups
  uid=$(id -u "$1")
  gid=$(id -g "$1")
  groups=$(id -G "$1" | tr ' ' '\n' | sort -n | xargs)
  echo "uid $uid $uid $uid $uid"
  echo "gid $gid $gid $gid $gid"
  echo "groups $groups"
  echo "caps 0000000000000000 0000000000000000 0000000000000000 0000000000000000"
  echo "id $(id "$1")"
  echo "env HOME=$(getent passwd "$1" | cut -d: -f6) USER=$1 LOGNAME=$1"
  echo "fds 0->/dev/null 1->pipe 2->pipe"
}
# probe's lines as checked: the capability bounding set and no_new_privs are informational, the
# pipes' inode numbers vary.
checked_probe() {
  grep -v '^capbnd ' | sed -E 's/pipe:\[[0-9]+\]/pipe/g; s/ $//'
}

for u in "${users[@]}"; do
  exe=$(run "as-$u")
  expect "run_as $u: the job succeeds" "success" "$(record "as-$u" 'r["status"]')"
  want=$(expected_probe "$u")
  for step in shell command second; do
    got=$(out "$exe" "$step")
    # One line per field, so that a failure names what differs.
    while IFS= read -r line; do
      key=${line%% *}
      expect "run_as $u, $step step: $key" "$line" \
        "$(checked_probe <<<"$got" | grep "^$key " || echo "(no $key line)")"
    done <<<"$want"
  done
  # The bounding set and no_new_privs, printed for the record (not checked).
  echo "     run_as $u: $(grep '^capbnd ' <<<"$(out "$exe" shell)")"
  call=$(grep -l "^uid $(id -u "$u") " pwsh/call-*/probe 2>/dev/null | head -1)
  expect "run_as $u, powershell step: runs as $u" "$(grep -E '^(uid|gid|groups|caps) ' <<<"$want")" \
    "$(checked_probe < "${call:-/dev/null}" | grep -E '^(uid|gid|groups|caps) ')"
  wait_for 10 test -s "drop/notify-$u"
  got=$(checked_probe < "drop/notify-$u" 2>/dev/null)
  expect "run_as $u, on_success command: runs as $u" \
    "$(grep -E '^(uid|gid|groups|caps) ' <<<"$want")" "$(grep -E '^(uid|gid|groups|caps) ' <<<"$got")"
  # Its standard input is the summary, its output goes to the file: only the numbers count.
  expect "run_as $u, on_success command: no descriptor of jobsd" "fds 0 1 2" \
    "$(grep '^fds ' <<<"$got" | sed -E 's/->[^ ]*//g')"
done

expect "a run_as step cannot write into jobsd's logs through a descriptor it was left" "" \
  "$(grep -r -l 'forged by' "$state" 2>/dev/null)"

exe=$(run as-root)
expect "a step of a job without run_as: no descriptor of jobsd either" \
  "fds 0->/dev/null 1->pipe 2->pipe" "$(out "$exe" shell | checked_probe | grep '^fds ')"

# ============================================================================================
# 2. Secrets are redacted everywhere
b64=$(printf '%s' "$secret" | base64 -w0)
b64_basic=$(printf 'u:%s' "$secret" | base64 -w0)
pct=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$secret")
pct_plus=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' "$secret")
json_escaped=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1])[1:-1])' "$secret")
forms=(-e "$secret" -e "$b64" -e "$b64_basic" -e "$pct" -e "$pct_plus" -e "$json_escaped")
sha=$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)

cat > jobs/secret.yaml <<YAML
env: { API_KEY: "\${secret.TOKEN}" }
notify:
  on_failure:
    - command: [sh, -c, 'printf "%s" "\$1" | sha256sum > $work/drop/notify-secret; cat > /dev/null', x, "\${secret.TOKEN}"]
    - webhook: "http://127.0.0.1:$port/hook?key=\${secret.TOKEN}"
steps:
  - id: env
    type: shell
    run: printf '%s' "\$API_KEY" | sha256sum; echo "env=\$API_KEY"
  - id: script
    type: shell
    run: echo "script=\${secret.TOKEN}"
  - id: argv
    type: command
    argv: [sh, -c, 'printf "%s" "\$1" | sha256sum; echo "arg=\$1"', x, "\${secret.TOKEN}"]
  - id: post
    type: http
    method: POST
    url: "http://127.0.0.1:$port/echo?k=\${secret.TOKEN}"
    bearer_token: "\${secret.TOKEN}"
    headers: { X-Api-Key: "\${secret.TOKEN}" }
    json: { token: "\${secret.TOKEN}" }
  - id: basic
    type: http
    url: "http://127.0.0.1:$port/basic"
    basic: { user: u, password: "\${secret.TOKEN}" }
  - id: refused
    type: http
    url: "http://127.0.0.1:$port/refused/\${secret.TOKEN}"
    headers: { X-Api-Key: "\${secret.TOKEN}" }
    expect_status: [201]
    max_retries: 0
    continue_on_failure: true
  - id: body
    type: shell
    run: echo "body=\${steps.post.body}"; echo "json=\${steps.post.json.headers}"
  - id: fail
    type: shell
    run: echo "out \${secret.TOKEN}"; echo "err \${secret.TOKEN}" >&2; exit 3
YAML
"$jobsctl" reload > /dev/null 2>&1
expect "reload with the secret job" "0" "$?"
o=$("$jobsctl" trigger secret --follow 2>&1)
expect "the secret job fails in its last step" "1" "$?"
expect "jobsctl trigger secret --follow: no secret in its output" "0" \
  "$(grep -c -F "${forms[@]}" <<<"$o")"
exe=$(sed -n 's/^execution \([0-9A-Z]*\) of job secret$/\1/p' <<<"$o" | head -1)
expect "the shell step got the secret in its environment" "$sha  -" "$(out "$exe" env | head -1)"
expect "the command step got it as an argument" "$sha  -" "$(out "$exe" argv | head -1)"
expect "and both printed it redacted" "env=*** arg=*** script=***" \
  "$(out "$exe" env | tail -1) $(out "$exe" argv | tail -1) $(out "$exe" script)"
expect "the failing step's stdout and stderr are redacted" "out ***|err ***" \
  "$(grep -E '^  fail [|!] ' <<<"$o" | sed -E 's/^  fail [|!] //' | paste -sd'|')"
wait_for 10 test -s drop/notify-secret
expect "the notification command got the secret as an argument" "$sha  -" \
  "$(cat drop/notify-secret 2>&1)"
seen=$(python3 - "$secret" "$b64_basic" <<'PY'
import json, sys
secret, basic = sys.argv[1:]
for line in open("requests.jsonl"):
    r = json.loads(line)
    if "line" not in r:
        continue
    h = dict(r["headers"])
    path = r["line"].split()[1].split("?")[0]
    if path == "/echo":
        print("bearer", h.get("Authorization") == "Bearer " + secret,
              "header", h.get("X-Api-Key") == secret,
              "body", json.loads(r["body"]) == {"token": secret})
    elif path == "/basic":
        print("basic", h.get("Authorization") == "Basic " + basic)
PY
)
expect "the server got the secret as bearer token, header, JSON body and basic password" \
  "bearer True header True body True
basic True" "$seen"

# Every read verb, and their --json.
run secret > /dev/null
expect "jobsctl trigger secret --wait --json: no secret in its output" "0" \
  "$(cat runs/secret.json runs/secret.err | grep -c -F "${forms[@]}")"
for args in "trigger secret --wait" "logs secret" \
  "logs $exe" "logs secret --step fail" "history" "history --json" "history secret --json" \
  "show secret" "show --json secret" "status" "status --json" "list" "list --json"; do
  # shellcheck disable=SC2086
  o=$("$jobsctl" $args 2>&1)
  expect "jobsctl $args: no secret in its output" "0" "$(grep -c -F "${forms[@]}" <<<"$o")"
done
expect "the step lines are there, redacted (jobsctl logs)" "1" \
  "$(grep -c '\[fail\] err: err \*\*\*$' <<<"$("$jobsctl" logs "$exe")")"
expect "the refused request's error names its URL, redacted" \
  "HTTP 200 OK from http://127.0.0.1:$port/refused/*** (expected 201)" \
  "$(record secret 's["refused"]["error_message"]')"

# The files: every file under the state folder (the logs are state/logs), the WAL included.
wait_for 10 test -s "$state/history.db-wal"
expect "the store's WAL is there to be read" "0" "$?"
files=$(find "$state" -type f | sort)
expect "the files read include history.db, its WAL, jobs.jsonl, jobsd.log, audit.log, a zone log and the execution logs" \
  "history.db history.db-wal jobs.jsonl jobsd.log audit.log UTC secret" \
  "$(for f in history.db history.db-wal jobs.jsonl jobsd.log audit.log; do
      grep -q "/$f$" <<<"$files" && printf '%s ' "$f"
    done; grep -q '/timezones/UTC/' <<<"$files" && printf 'UTC '
    grep -q '/logs/secret/.*\.log$' <<<"$files" && printf 'secret')"
expect "no secret in any file of the state folder (raw, base64, percent-encoded, JSON)" "" \
  "$(grep -r -a -l -F "${forms[@]}" "$state")"
expect "nor in the webhook's payload" "0" "$(python3 - "$secret" <<'PY'
import json, sys
n = 0
for line in open("requests.jsonl"):
    r = json.loads(line)
    if "line" in r and r["line"].split()[1].startswith("/hook"):
        n += sys.argv[1] in r["body"]
print(n)
PY
)"

# ============================================================================================
# 3. file steps stay inside allowed_paths
A=$work/allowed
O=$work/outside
mkdir -p "$A/in" "$A/out" "$A/tree/sub" "$O/dir"
echo victim > "$O/victim.txt"
echo outside > "$O/a.txt"
echo inside > "$A/in/a.txt"
echo inside-b > "$A/in/b.txt"
echo tree > "$A/tree/sub/t.txt"
ln -s ../../outside/victim.txt "$A/in/link.txt" # a file link out
ln -s ../outside/dir "$A/outdir"                # a folder link out
ln -s ../outside "$A/ldir"                      # a link out in the middle of a path
ln -s ../../../outside "$A/tree/sub/esc"        # a link out below a recursive source
ln -s ../../outside/victim.txt "$A/out/target.txt" # a destination file that links out
touch -d '2020-01-01 00:00:00' "$O/victim.txt" "$O/a.txt" "$O/dir" "$O"
snapshot() { find "$O" -printf '%p %y %s %T@ %l\n' | sort; cat "$O/victim.txt" "$O/a.txt"; }
before=$(snapshot)

# file_job NAME KEY:VALUE...: a job of one file step with these keys.
file_job() {
  local name=$1
  shift
  { echo "steps:"; echo "  - type: file"; printf '    %s\n' "$@"; } > "jobs/$name.yaml"
}
file_job dotdot "action: copy" "source: $A/../outside/a.txt" "destination: $A/out/"
file_job relative "action: copy" "source: ../allowed/in/../../outside/a.txt" "destination: ../allowed/out/"
file_job absolute "action: copy" "source: /etc/passwd" "destination: $A/out/"
file_job dst-outside "action: copy" "source: $A/in/a.txt" "destination: $O/dir/"
file_job dst-dotdot "action: copy" "source: $A/in/a.txt" "destination: $A/../outside/dir/"
file_job link-source "action: copy" "source: $A/in/link.txt" "destination: $A/out/"
file_job link-dest "action: copy" "source: $A/in/a.txt" "destination: $A/outdir/"
file_job link-middle "action: copy" "source: $A/ldir/victim.txt" "destination: $A/out/"
file_job link-overwrite "action: copy" "source: $A/in/a.txt" "destination: $A/out/target.txt" "overwrite: true"
file_job glob "action: copy" "source: $work/*/a.txt" "destination: $A/out/g/"
file_job glob-dotdot "action: copy" "source: $A/../*/*.txt" "destination: $A/out/g/"
file_job glob-recursive "action: copy" "source: $A/tree/**" "destination: $A/out/t/" "recursive: true"
file_job move-in "action: move" "source: $O/a.txt" "destination: $A/out/"
file_job move-out "action: move" "source: $A/in/b.txt" "destination: $O/dir/"
file_job move-link "action: move" "source: $A/in/b.txt" "destination: $A/outdir/"
file_job delete "action: delete" "source: $O/a.txt"
file_job delete-glob "action: delete" "source: $A/ldir/*.txt"
file_job delete-dotdot "action: delete" "source: $A/../outside/*"
file_job archive-source "action: archive" "source: $O/a.txt" "destination: $A/out/x.tar.gz"
file_job archive-dest "action: archive" "source: $A/in/a.txt" "destination: $O/x.tar.gz"
file_job archive-link "action: archive" "source: $A/in/a.txt" "destination: $A/outdir/x.tar.gz"
file_job archive-remove "action: archive" "source: $A/ldir/victim.txt" "destination: $A/out/y.tar.gz" \
  "remove_sources: true"
"$jobsctl" reload > /dev/null 2>&1
expect "reload with the file jobs" "0" "$?"

# refused JOB MESSAGE: the job fails, its step's error is MESSAGE.
refused() {
  run "$1" > /dev/null
  expect "file $1: refused: $2" "failed|$2" \
    "$(record "$1" 'r["status"] + "|" + (s["step-1"]["error_message"] or "")')"
}
outside_msg="is outside allowed_paths ($A)"
refused dotdot "$O/a.txt $outside_msg"
refused relative "$O/a.txt $outside_msg"
refused absolute "/etc/passwd $outside_msg"
refused dst-outside "$O/dir/ $outside_msg"
refused dst-dotdot "$O/dir/ $outside_msg"
refused link-source "$A/in/link.txt -> $O/victim.txt is a symlink out of allowed_paths"
refused link-dest "$A/outdir -> $O/dir is a symlink out of allowed_paths"
refused link-middle "$A/ldir -> $O is a symlink out of allowed_paths"
refused link-overwrite "$A/out/target.txt -> $O/victim.txt is a symlink out of allowed_paths"
refused glob "$work/*/a.txt $outside_msg"
refused glob-dotdot "$work/*/*.txt $outside_msg"
refused move-in "$O/a.txt $outside_msg"
refused move-out "$O/dir/ $outside_msg"
refused move-link "$A/outdir -> $O/dir is a symlink out of allowed_paths"
refused delete "$O/a.txt $outside_msg"
refused delete-glob "$A/ldir -> $O is a symlink out of allowed_paths"
refused delete-dotdot "$work/outside/* $outside_msg"
refused archive-source "$O/a.txt $outside_msg"
refused archive-dest "$O/x.tar.gz $outside_msg"
refused archive-link "$A/outdir -> $O/dir is a symlink out of allowed_paths"
refused archive-remove "$A/ldir -> $O is a symlink out of allowed_paths"
# A recursive copy that meets a link out: refused, or the link copied as a link; never a copy
# of what is outside.
run glob-recursive > /dev/null
expect "file glob-recursive: no file from outside was copied in" "" \
  "$(find "$A/out" -type f -exec grep -l -x -e victim -e outside {} + 2>/dev/null)"
expect "file glob-recursive: no folder was entered through the link" "" \
  "$(find "$A/out" -path '*esc/*' 2>/dev/null)"
expect "the refusals changed nothing in allowed_paths" "inside inside-b tree" \
  "$(cat "$A/in/a.txt" "$A/in/b.txt" "$A/tree/sub/t.txt" | xargs)"
expect "the refused copies and archives made nothing" "" \
  "$(find "$A/out" -mindepth 1 ! -name target.txt ! -path "$A/out/t" ! -path "$A/out/t/*")"

# Deleting a link that leads out, alone or below a recursive source: refused, or the link
# deleted (acted on as a link); never what it points to (checked below with the snapshot).
file_job delete-tree "action: delete" "source: $A/tree/**" "recursive: true"
file_job delete-link "action: delete" "source: $A/in/link.txt"
"$jobsctl" reload > /dev/null 2>&1
run delete-tree > /dev/null
expect "file delete-tree: refused, or the tree deleted with the link in it" "ok" \
  "$(case "$(record delete-tree 'r["status"] + "|" + (s["step-1"]["error_message"] or "")')" in
      "failed|$A/tree/sub/esc -> $O is a symlink out of allowed_paths")
        [ -L "$A/tree/sub/esc" ] && [ -f "$A/tree/sub/t.txt" ] && echo ok ;;
      "success|") [ -z "$(find "$A/tree" -mindepth 1)" ] && echo ok ;;
      *) record delete-tree 'r["status"] + "|" + (s["step-1"]["error_message"] or "")' ;;
    esac)"
run delete-link > /dev/null
expect "file delete-link: refused, or the link deleted" "ok" \
  "$(case "$(record delete-link 'r["status"] + "|" + (s["step-1"]["error_message"] or "")')" in
      "failed|$A/in/link.txt -> $O/victim.txt is a symlink out of allowed_paths")
        [ -L "$A/in/link.txt" ] && echo ok ;;
      "success|") [ ! -L "$A/in/link.txt" ] && echo ok ;;
      *) record delete-link 'r["status"] + "|" + (s["step-1"]["error_message"] or "")' ;;
    esac)"
expect "nothing outside allowed_paths changed: names, types, sizes, mtimes, contents" "$before" \
  "$(snapshot)"

# ============================================================================================
# 4. Variables are data, never code
c=$work/canary
mkdir "$c/victim"
# Payloads that each run a command when spliced raw into their context of a shell script, and
# stay balanced there (an unbalanced quote would be a syntax error, which runs nothing):
# unquoted, in double quotes, in single quotes, on a line of their own.
names=(DOLLAR BACKTICK SEMI DQUOTE SQUOTE RM NEWLINE)
declare -A payload=(
  [DOLLAR]="\$(touch $c/dollar)"
  [BACKTICK]="\`touch $c/backtick\`"
  [SEMI]="x; touch $c/semicolon"
  [DQUOTE]="\"; touch $c/dquote; \""
  [SQUOTE]="'; touch $c/squote; '"
  [RM]="x; rm -rf $c/victim"
  [NEWLINE]=$'x\ntouch '"$c/newline"
)
# All of them in one value, for the places that are not shell.
evil="$(for n in "${names[@]}"; do printf '%s ' "${payload[$n]}"; done)#"
drop="x'); DROP TABLE t; --"
canaries() {
  find "$c" -mindepth 1 -maxdepth 1 ! -name victim -printf '%f '
  test -d "$c/victim" || echo "victim-removed"
}

{
  echo "env:"
  for n in "${names[@]}"; do echo "  $n: $(q "${payload[$n]}")"; done
  echo "  EVIL: $(q "$evil")"
  echo "  DROP: $(q "$drop")"
  cat <<YAML
notify:
  on_success:
    - command: [sh, -c, 'printf "%s" "\$1" > $work/drop/notify-inject', x, "\${env.EVIL}"]
steps:
  - id: shell
    type: shell
    run: |
YAML
  for n in "${names[@]}"; do
    echo "      echo \"$n \${env.$n}\""
    echo "      echo unquoted \${env.$n} > /dev/null"
    echo "      echo 'single \${env.$n}' > /dev/null"
  done
  echo "      cat <<END"
  for n in "${names[@]}"; do echo "      here \${env.$n}"; done
  echo "      END"
  cat <<YAML
  - id: dq
    type: shell
    run: printf '%s' "\$DQUOTE"
  - id: sq
    type: shell
    run: printf '%s' "\$SQUOTE"
  - id: from-output
    type: shell
    run: |
      echo "output \${steps.dq.output}"
      echo unquoted \${steps.sq.output} \${steps.dq.output} > /dev/null
      echo 'single \${steps.sq.output}' > /dev/null
  - id: argv
    type: command
    argv: [printf, '%s\n', "\${env.EVIL}", "\${steps.dq.output}"]
  - id: insert
    type: sql
    connection: app
    query: INSERT INTO t (v) VALUES (\${env.DROP}); INSERT INTO t (v) VALUES (\${env.EVIL})
  - id: count
    type: sql
    connection: app
    query: SELECT count(*) AS n FROM t WHERE v = \${env.DROP} OR v = :evil
    params: { evil: "\${env.EVIL}" }
  - id: pwsh
    type: powershell
    script: |
      Write-Output "\${env.EVIL}"
      Write-Output \${steps.dq.output}
  - id: pwsh-params
    type: powershell
    script: param([string]\$Name) Write-Output \$Name
    parameters: { Name: "\${env.EVIL}" }
YAML
} > jobs/inject.yaml
"$jobsctl" reload > /dev/null 2>&1
expect "reload with the injection job" "0" "$?"
exe=$(run inject)
expect "the injection job succeeds" "success" "$(record inject 'r["status"]')"
expect "shell step: each value is printed as it is, in double quotes and in a here-document" \
  "$(for n in "${names[@]}"; do printf '%s %s\n' "$n" "${payload[$n]}"; done
    for n in "${names[@]}"; do printf 'here %s\n' "${payload[$n]}"; done)" "$(out "$exe" shell)"
expect "shell step: another step's output stays data too" "output ${payload[DQUOTE]}" \
  "$(out "$exe" from-output)"
expect "command step: each value is one argument, as it is" "$evil
${payload[DQUOTE]}" "$(out "$exe" argv)"
expect "sql: the table survives, each value stored as it is" "seed
$drop
$evil" "$(sql app.db 'SELECT v FROM t ORDER BY rowid')"
expect "sql: the values compare as values (bound parameters)" "2" "$(out "$exe" count | sed -n 3p)"
wait_for 10 test -s drop/notify-inject
expect "notification command: the value is one argument, as it is" "$evil" \
  "$(cat drop/notify-inject 2>&1)"
expect "no canary after shell, command, sql steps and a notification command" "" "$(canaries)"

# PowerShell: the script refers to the variables; their values come in the environment, and a
# parameter is one argument after -File.
calls=$(grep -l -a -F "$exe" pwsh/call-*/env 2>/dev/null | xargs -r -n1 dirname | sort)
expect "pwsh was run twice for the execution" "2" "$(wc -l <<<"$calls" | tr -d ' ')"
# shellcheck disable=SC2086 # one argument per call folder
pwsh_check=$(python3 - "$evil" "${payload[DQUOTE]}" $calls <<'PY'
import sys
evil, dq, calls = sys.argv[1], sys.argv[2], sys.argv[3:]
for d in calls:
    argv = open(d + "/argv", "rb").read().decode().split("\0")[:-1]
    env = dict(e.split("=", 1) for e in open(d + "/env", "rb").read().decode().split("\0") if "=" in e)
    if "-Command" in argv:
        script = argv[argv.index("-Command") + 1]
        print("command: script holds the value:", evil in script,
              "| refers to $env:EVIL:", '"$env:EVIL"' in script,
              "| and to $env:STEP_DQ_OUTPUT:", "$env:STEP_DQ_OUTPUT" in script,
              "| EVIL in env:", env.get("EVIL") == evil,
              "| STEP_DQ_OUTPUT in env:", env.get("STEP_DQ_OUTPUT") == dq)
    else:
        f = argv[argv.index("-File") + 1] if "-File" in argv else None
        text = open(d + "/file").read() if f else ""
        print("file: script holds the value:", evil in text,
              "| -Name is followed by the value, one argument:",
              "-Name" in argv and argv[argv.index("-Name") + 1] == evil)
PY
)
expect "pwsh: the values are data (the environment, one argument), never script text" \
  "command: script holds the value: False | refers to \$env:EVIL: True | and to \$env:STEP_DQ_OUTPUT: True | EVIL in env: True | STEP_DQ_OUTPUT in env: True
file: script holds the value: False | -Name is followed by the value, one argument: True" \
  "$(sort <<<"$pwsh_check")"
expect "pwsh's standard input holds no value" "" \
  "$(for d in $calls; do grep -l -F -e "$evil" -e touch "$d/stdin"; done)"

# HTTP: a value with a line break is refused before anything is sent, in a header whether it
# comes from env or from a step's output; values in the URL and query are percent-encoded.
q_value="a&admin=1#frag b+c/d?e=f%41"
segment="../../admin?x=1"
json_value='","admin":true,"x":"'
cat > jobs/http-inject.yaml <<YAML
env:
  Q: $(q "$q_value")
  SEG: $(q "$segment")
  J: $(q "$json_value")
  CRLF: $(q $'a\r\nX-Evil: 1')
  LF: $(q $'a\nX-Evil: 2')
  SEG2: "../admin"
  Q2: "a&admin=1"
  EVIL: $(q "$evil")
notify:
  on_failure:
    - webhook: "http://127.0.0.1:$port/hook/\${env.SEG2}?q=\${env.Q2}&fixed=1"
steps:
  - id: url
    type: http
    method: POST
    url: "http://127.0.0.1:$port/items/\${env.SEG}/x?q=\${env.Q}&fixed=1"
    query: { k: "\${env.Q}", e: "\${env.EVIL}" }
    json: { name: "\${env.J}" }
  - id: crlf
    type: http
    url: "http://127.0.0.1:$port/crlf"
    headers: { X-Tag: "\${env.CRLF}" }
    continue_on_failure: true
  - id: lf
    type: http
    url: "http://127.0.0.1:$port/lf"
    headers: { X-Tag: "\${env.LF}" }
    continue_on_failure: true
  - id: lines
    type: shell
    run: "printf 'one\\\\r\\\\nX-Evil: 3'"
  - id: from-output
    type: http
    url: "http://127.0.0.1:$port/from-output"
    headers: { X-Tag: "\${steps.lines.output}" }
    continue_on_failure: true
  - id: url-crlf
    type: http
    url: "http://127.0.0.1:$port/url-crlf?x=\${env.CRLF}"
    continue_on_failure: true
YAML
"$jobsctl" reload > /dev/null 2>&1
expect "reload with the http injection job" "0" "$?"
: > requests.jsonl
run http-inject > /dev/null
expect "http: the job ends partial_success (the three header steps refused)" "partial_success" \
  "$(record http-inject 'r["status"]')"
for step in crlf lf from-output; do
  expect "http $step: refused before sending" \
    "failed|header \"X-Tag\": a value cannot contain a line break" \
    "$(record http-inject "s[\"$step\"][\"status\"] + \"|\" + s[\"$step\"][\"error_message\"]")"
done
wait_for 10 grep -q 'notify on_failure webhook' "$(record http-inject 'r["log_path"]')"
http_check=$(python3 - "$q_value" "$segment" "$json_value" "$evil" <<'PY'
import json, sys, urllib.parse
q, seg, j, evil = sys.argv[1:]
seg2, q2 = "../admin", "a&admin=1"
for line in open("requests.jsonl"):
    r = json.loads(line)
    if "line" not in r:
        continue
    target = r["line"].split()[1]
    path, _, query = target.partition("?")
    names = [n.lower() for n, _ in r["headers"]]
    params = urllib.parse.parse_qsl(query, keep_blank_values=True)
    first = path.split("/")[1]
    segments = [urllib.parse.unquote(p) for p in path.split("/")[1:]]
    if first == "items":
        print("items: path segments", segments == ["items", seg, "x"],
              "| query", params == [("q", q), ("fixed", "1"), ("k", q), ("e", evil)],
              "| json", json.loads(r["body"]) == {"name": j})
    elif first == "hook":
        print("hook: path segments", segments == ["hook", seg2],
              "| query", params == [("q", q2), ("fixed", "1")])
    elif first == "url-crlf":
        print("url-crlf: sent, x-evil header:", "x-evil" in names,
              "| query", params == [("x", "a\r\nX-Evil: 1")])
    elif first not in ("crlf", "lf", "from-output"):
        print("unexpected request:", r["line"])
PY
)
expect "http step: the path segment, the query string, the query map and the JSON body are encoded" \
  "items: path segments True | query True | json True" "$(grep '^items: ' <<<"$http_check")"
# A URL whose variable holds a line break may be refused, or sent with the value encoded.
crlf=$(grep '^url-crlf: ' <<<"$http_check")
expect "http step: a line break in a URL's variable is refused or encoded" "ok" \
  "$([ -z "$crlf" ] || [ "$crlf" = "url-crlf: sent, x-evil header: False | query True" ] && echo ok ||
    echo "$crlf")"
expect "webhook notification: the URL's variables are encoded as in an http step" \
  "hook: path segments True | query True" "$(grep -v -e '^items: ' -e '^url-crlf: ' <<<"$http_check")"
expect "the refused header steps sent nothing" "0" \
  "$(grep -c -E '"line": "[A-Z]+ /(crlf|lf|from-output)[ ?]' requests.jsonl)"
expect "the server saw no X-Evil header at all" "0" "$(grep -c -i 'x-evil"' requests.jsonl)"
expect "no canary after the http steps and the webhook" "" "$(canaries)"

# ============================================================================================
# After stopping: the store checkpointed, the secret still nowhere, no canary.
stop_daemon "$state"
expect "jobsd stops" "0" "$?"
expect "after stopping: no secret in any file of the state folder" "" \
  "$(grep -r -a -l -F "${forms[@]}" "$state")"
expect "after stopping: no canary" "" "$(canaries)"

finish
