#!/usr/bin/env bash
# Process containment against a real root jobsd, driven by the real jobsctl (issue 16, item 2).
# A step starts 100 processes that leave its process group, its session and its environment
# (`env -i setsid sleep &`) and one of them ignoring SIGTERM; none may outlive:
#   1. the step's end;
#   2. a 2 s job timeout, its step ignoring SIGTERM (recorded within the timeout plus kill_grace);
#   3. `jobsctl cancel`;
#   4. jobsd's stop (SIGTERM);
#   5. a crash of jobsd (SIGKILL): the next jobsd kills them at its start.
# A jobsd that is not root and has no cgroup of its own falls back to a shim per step and runs
# jobs. And a step's end does not slow down with such processes about: an echo job takes as long
# after the attack as before it. jobsd.log names the containment in use; its cgroups are removed.
#
# With --no-cgroup the same attacks run against a jobsd that sees no cgroup v2 (as in a chroot or
# a container without /sys/fs/cgroup; where one is mounted, jobsd starts in a mount namespace in
# which every cgroup2 mount is unmounted): it holds the steps' processes with a shim per step. There 5. is
# done twice: once as is (each shim kills its step's processes when jobsd dies), once with the
# shim stopped so that it cannot (the next jobsd kills it and its processes at its start).
#
#   test_security_processes.sh JOBSCTL JOBSD [--no-cgroup]   (as root, else exit 77: skipped)
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
no_cgroup=$([ "${3:-}" = --no-cgroup ] && echo yes)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: test_security_processes.sh needs root (jobsd as root)"
  exit 77
fi
# without_cgroup COMMAND [ARG...]: runs it where no cgroup2 is mounted: here when none is (a
# chroot such as scripts/fresh-check's, a container), else in a new mount namespace without them.
without_cgroup() {
  if ! grep -q ' - cgroup2 ' /proc/self/mountinfo; then
    "$@"
    return
  fi
  # shellcheck disable=SC2016 # for the inner sh to expand
  unshare --mount --propagation private sh -c '
    sed -n "s/^[^ ]* [^ ]* [^ ]* [^ ]* \([^ ]*\) .* - cgroup2 .*/\1/p" /proc/self/mountinfo |
      sort -r | while read -r point; do umount -l "$point" || exit 1; done
    ! grep -q " - cgroup2 " /proc/self/mountinfo && exec "$@"
    echo "a cgroup2 mount is left" >&2; exit 1' sh "$@"
}
if [ -n "$no_cgroup" ]; then
  if ! err=$(without_cgroup true 2>&1); then
    echo "skipped: test_security_processes.sh --no-cgroup needs a mount namespace without" \
      "cgroup2 (unshare --mount): ${err:-it failed}"
    exit 77
  fi
elif ! grep -q ' - cgroup2 ' /proc/self/mountinfo; then
  # A chroot or a container without /sys/fs/cgroup: the --no-cgroup run covers it.
  echo "skipped: test_security_processes.sh needs a cgroup v2 hierarchy, and none is mounted here"
  exit 77
fi
work=$(mktemp -d /tmp/jobs-processes-XXXXXX)
# The jobsd run as nobody must reach its folders in it.
chmod 755 "$work"
cd "$work" || exit 1
mkdir jobs nobody
export JOBS_STATE_DIR="$work/state" JOBS_SOCKET="$work/jobsd.sock"
state=$work/state
# The sleeps of this run only: "sleep 200.<pid><case>" (other suites may run sleeps too).
tag=$$
tree="" # jobsd's cgroup, when it uses one
shim="" # the shim 5b holds

cleanup() {
  stop_daemon "$state" 30
  stop_daemon "$work/nobody/state"
  pkill -KILL -f "^sleep [0-9]+\.$tag" 2>/dev/null
  # The shim 5b holds, when the restart that kills it did not happen.
  [ -n "$shim" ] && kill -KILL "$shim" 2>/dev/null
  # What a failed check left in jobsd's cgroup (a restart that did not happen, say).
  if [ -n "$tree" ] && [ -d "$tree" ]; then
    echo 1 > "$tree/cgroup.kill"
    wait_for 10 grep -qx "populated 0" "$tree/cgroup.events"
    find "$tree" -depth -type d -exec rmdir {} + 2>/dev/null
  fi
  cd /
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# survivors CASE: how many sleeps of CASE run (zombies, which are dead, not counted).
survivors() {
  local n=0 pid
  for pid in $(pgrep -f "^sleep [0-9]+\.$tag$1\$"); do
    alive "$pid" && n=$((n + 1))
  done
  echo "$n"
}
running() { [ "$(survivors "$1")" -eq "$2" ]; }

# escape CASE: shell that starts 100 sleeps of CASE out of the step's group, session and
# environment, and one more that also ignores SIGTERM.
escape() {
  echo "for i in \$(seq 100); do env -i setsid sleep 200.$tag$1 & done;" \
    "env -i setsid sh -c \"trap '' TERM; exec sleep 200.$tag$1\" &"
}

# A job file: $1 its id, $2 the shell its one step runs, $3 more top-level keys.
job() {
  printf 'concurrency: allow\n%s\nsteps:\n  - id: s\n    type: shell\n    run: %s\n' \
    "${3:-}" "$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$2")" \
    > "jobs/$1.yaml"
}

# of EXECUTION EXPR: a Python expression on the execution's record `r` in jobsctl history.
of() {
  "$jobsctl" history --json --limit 0 2>/dev/null | python3 -c '
import json, sys
r = {e["execution_id"]: e for e in json.load(sys.stdin)}.get(sys.argv[1])
print("" if r is None else eval(sys.argv[2]))' "$1" "$2"
}
# duration EXECUTION: its recorded duration in ms.
duration() { of "$1" 'round(r["duration_seconds"] * 1000) if r["end_time"] else ""'; }
status_of() { of "$1" 'r["status"]'; }
ended() { [ -n "$(of "$1" 'r["end_time"] or ""')" ]; }
trigger() {
  "$jobsctl" trigger "$@" --json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["execution_id"])'
}

cat > jobsd.yaml <<'YAML'
grace_period: 1s
kill_grace: 1s
YAML
start_daemon() {
  ${no_cgroup:+without_cgroup} "$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" \
    --state-dir "$state"
}

job echo 'echo hello'
job escape "$(escape 1) echo started"
job timeout "trap '' TERM; $(escape 2) sleep 1000" 'timeout: 2s'
job cancel "$(escape 3) sleep 1000"
job stop "$(escape 4) sleep 1000"
job crash "$(escape 5) sleep 1000"
job stopped "$(escape 6) sleep 1000"
start_daemon
expect "jobsd starts" "0" "$?"

containment=$(sed -n 's/.*process containment: //p' "$state/logs/jobsd.log" | head -1)
echo "containment: $containment"
if [ -n "$no_cgroup" ]; then
  expected="a subreaper shim per step (no cgroup: no cgroup v2 hierarchy is mounted)"
  expect "jobsd.log names the shim, and why" "$expected" "$containment"
else
  expect "jobsd.log names a containment that does not depend on the environment" "yes" \
    "$(case $containment in cgroup*) echo yes ;; *) echo "no: $containment" ;; esac)"
fi
expect "jobsctl status says it" "steps' processes: $containment" \
  "$("$jobsctl" status | grep "^steps' processes: ")"
if [[ $containment == cgroup* ]]; then
  tree=$(sed 's/^cgroup v2 //' <<<"$containment")
fi
# execution_cgroups: how many cgroups of executions the tree holds.
execution_cgroups() { find "$tree" -mindepth 1 -maxdepth 1 -type d | wc -l; }

# --- 1. The step's end, and what it costs with no strays and after 101 of them.
before=$(trigger echo --wait)
escaped=$(trigger escape --wait)
expect "the escaping step succeeded" "success" "$(status_of "$escaped")"
expect "1. nothing the step started outlives its end" "0" "$(survivors 1)"
after=$(trigger echo --wait)
echo "an echo job: $(duration "$before") ms before, $(duration "$after") ms after the escape"
expect "an echo job after the escape takes under 1 s more than before it" "yes" \
  "$([ "$(duration "$after")" -lt $(($(duration "$before") + 1000)) ] && echo yes ||
    echo "no: $(duration "$before") ms, then $(duration "$after") ms")"
if [ -n "$tree" ]; then
  expect "the cgroups of ended executions are removed" "0" "$(execution_cgroups)"
fi

# --- 2. A 2 s timeout on a step that ignores SIGTERM: kill_grace (1 s) later it is killed.
timed=$(trigger timeout)
wait_for 10 running 2 101
expect "2. the timeout step's processes started" "101" "$(survivors 2)"
wait_for 20 ended "$timed"
expect "2. the job timed out" "timeout" "$(status_of "$timed")"
echo "timeout 2s, kill_grace 1s: recorded after $(duration "$timed") ms"
expect "2. recorded within 2 s of timeout + 1 s of kill_grace + 1 s" "yes" \
  "$([ "$(duration "$timed")" -lt 4000 ] 2>/dev/null && echo yes ||
    echo "no: '$(duration "$timed")' ms")"
expect "2. nothing outlives the timeout" "0" "$(survivors 2)"

# --- 3. jobsctl cancel.
cancelled=$(trigger cancel)
wait_for 10 running 3 101
expect "3. the cancelled step's processes started" "101" "$(survivors 3)"
# Another execution's 101 processes running do not slow a step's end either.
during=$(trigger echo --wait)
echo "an echo job: $(duration "$during") ms while another step runs 101 processes"
expect "an echo job while another step runs 101 processes takes under 1 s more" "yes" \
  "$([ "$(duration "$during")" -lt $(($(duration "$before") + 1000)) ] && echo yes ||
    echo "no: $(duration "$before") ms, then $(duration "$during") ms")"
"$jobsctl" cancel "$cancelled" >/dev/null
wait_for 10 ended "$cancelled"
expect "3. the execution is cancelled" "cancelled" "$(status_of "$cancelled")"
expect "3. nothing outlives the cancel" "0" "$(survivors 3)"

# --- 4. jobsd's stop.
trigger stop >/dev/null
wait_for 10 running 4 101
expect "4. the step's processes started" "101" "$(survivors 4)"
stop_daemon "$state" 20
expect "4. nothing outlives jobsd's stop" "0" "$(survivors 4)"
if [ -n "$tree" ]; then
  expect "4. jobsd's cgroups are removed when it stops" "no" \
    "$([ -e "$tree" ] && echo "yes: $(ls "$tree")" || echo no)"
fi

# --- 5. A crash: the processes wait for the next jobsd, which kills them at its start.
start_daemon
crashed=$(trigger crash)
wait_for 10 running 5 101
expect "5. the step's processes started" "101" "$(survivors 5)"
kill -KILL "$(cat "$state/jobsd.lock")"
# Until its lock is free: its leader is a zombie before its other threads have ended.
wait_for 10 lock_free "$state"
if [ -n "$no_cgroup" ]; then
  # Each shim kills its step's processes when jobsd dies, before any jobsd starts again.
  wait_for 10 running 5 0
  expect "5. nothing outlives jobsd's SIGKILL" "0" "$(survivors 5)"
fi
start_daemon
expect "5. jobsd starts again after SIGKILL" "0" "$?"
expect "5. the execution running at the crash is interrupted" "interrupted" \
  "$(status_of "$crashed")"
expect "5. nothing of the earlier run outlives the restart" "0" "$(survivors 5)"
# The 101 sleeps, the step's shell and its sleep 1000.
if [ -n "$tree" ]; then
  expect "5. jobsd.log says how many it killed" "1" \
    "$(grep -c 'killed 103 processes left running by the previous jobsd' "$state/logs/jobsd.log")"
  expect "5. the earlier run's cgroups are removed" "0" "$(execution_cgroups)"
fi

# --- 5b. Without a cgroup, a shim that could not act on jobsd's death (held here in a ptrace stop,
# which the SIGCONT that comes to an orphaned process group does not end, as it ends a SIGSTOP):
# the next jobsd finds it by its JOBS_STEP_TOKEN and kills it and all its processes at its start.
# hold PID: holds the process in a ptrace stop until it is killed (60 s at most); "held" to
# standard output once it is.
hold() {
  python3 -c '
import ctypes, os, signal, sys
pid, libc = int(sys.argv[1]), ctypes.CDLL(None, use_errno=True)
ptrace = lambda request: libc.ptrace(ctypes.c_long(request), ctypes.c_long(pid), None, None)
if ptrace(0x4206) != 0 or ptrace(0x4207) != 0:  # PTRACE_SEIZE, PTRACE_INTERRUPT
    sys.exit("ptrace: " + os.strerror(ctypes.get_errno()))
signal.alarm(60)
os.waitpid(pid, 0x40000000)  # __WALL: its stop
print("held", flush=True)
while True:
    _, status = os.waitpid(pid, 0x40000000)
    if os.WIFEXITED(status) or os.WIFSIGNALED(status):
        break' "$1"
}
if [ -n "$no_cgroup" ]; then
  stopped=$(trigger stopped)
  wait_for 10 running 6 101
  expect "5b. the step's processes started" "101" "$(survivors 6)"
  shim=$(pgrep -f "^jobs-step-shim [0-9]+ $(cat "$state/jobsd.lock")\$")
  expect "5b. one shim runs" "1" "$(wc -w <<<"$shim")"
  hold "$shim" >held &
  holder=$!
  wait_for 10 grep -qx held held
  expect "5b. the shim is held" "held" "$(cat held)"
  kill -KILL "$(cat "$state/jobsd.lock")"
  wait_for 10 lock_free "$state"
  expect "5b. the stopped shim's processes outlive jobsd" "101" "$(survivors 6)"
  start_daemon
  expect "5b. jobsd starts again" "0" "$?"
  expect "5b. nothing of the earlier run outlives the restart" "0" "$(survivors 6)"
  wait_for 10 exited "$holder"
  expect "5b. nor does its shim" "no" "$(alive "$shim" && echo yes || echo no)"
  # The shim, the 101 sleeps, the step's shell and its sleep 1000.
  expect "5b. jobsd.log says how many it killed" "1" \
    "$(grep -c 'killed 104 processes left running by the previous jobsd' "$state/logs/jobsd.log")"
fi

# --- A jobsd that is not root, in a cgroup that is not its user's: the token, and jobs run.
mkdir nobody/jobs nobody/state
chown nobody nobody/state
job echo 'echo hello'
mv jobs/echo.yaml nobody/jobs/
as_nobody() {
  setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups env JOBS_STATE_DIR="$work/nobody/state" \
    JOBS_SOCKET="$work/nobody/state/jobsd.sock" "$@"
}
as_nobody "$jobsd" --config /dev/null --jobs-dir "$work/nobody/jobs" --state-dir "$work/nobody/state"
expect "6. jobsd starts as nobody" "0" "$?"
fallback=$(sed -n 's/.*process containment: //p' "$work/nobody/state/logs/jobsd.log")
echo "as nobody: $fallback"
expect "6. as nobody without a cgroup of its own: the shim, saying why" "yes" \
  "$([[ $fallback == "a subreaper shim per step (no cgroup: "*")" ]] && echo yes ||
    echo "no: $fallback")"
expect "6. its jobs run" "0" "$(as_nobody "$jobsctl" trigger echo --wait >/dev/null; echo $?)"
stop_daemon "$work/nobody/state"

if [ "$failures" -ne 0 ]; then
  tail -n 20 "$state/logs/jobsd.log"
fi
finish
