# Sourced by the integration tests, after expect.sh:
#   wait_for SECONDS COMMAND [ARG...]  polls a condition until it holds, at most SECONDS
#   stop_daemon STATE [SECONDS]        stops the jobsd of the state folder STATE
#   alive PID                          whether the process PID runs
#   lock_free STATE                    whether no jobsd holds the lock of the state folder STATE
#   new_work NAME                      the test's temporary folder, removed at exit
#   hold_store_lock DB LOCKED RELEASE  another process holds the write lock of the database DB

# Runs COMMAND (its output discarded) every 0.1 s until it succeeds; returns 1 when SECONDS
# (whole seconds of wall-clock time, however long each try takes) pass first.
wait_for() {
  local deadline=$((${EPOCHREALTIME//[!0-9]/} + $1 * 1000000))
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.1
  done
}

# Whether the process PID runs (a zombie, which kill -0 still finds, does not).
alive() {
  local stat
  { stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

exited() { ! alive "$1"; }

# Whether no process holds STATE/jobsd.lock (a POSIX record lock, fcntl(2), as jobsd takes it):
# true only once every thread of a killed jobsd has ended, not when its leader is a zombie.
lock_free() {
  python3 -c 'import fcntl, sys; fcntl.lockf(open(sys.argv[1], "r+"), fcntl.LOCK_EX | fcntl.LOCK_NB)' \
    "$1/jobsd.lock" 2>/dev/null
}

# Whether the process PID has FILE (an absolute path without symbolic links) open.
has_open() {
  local fd
  for fd in "/proc/$1/fd/"*; do
    if [ "$(readlink "$fd" 2>/dev/null)" = "$2" ]; then
      return 0
    fi
  done
  return 1
}

# Stops the jobsd of the state folder STATE: SIGTERM to the pid in STATE/jobsd.lock, then waits
# up to SECONDS (default 10; more when running steps may hold the stop for the grace periods)
# for it to exit. Returns 0 at once when no jobsd of STATE runs: the lock keeps the pid of the
# last one, which may be another program's by now, so only a process that holds the lock open
# is signalled. One that outlives the wait is a failed check (and SIGKILLed): returns 1.
stop_daemon() {
  local state=$1 seconds=${2:-10} lock pid
  lock=$(readlink -f "$state/jobsd.lock") && pid=$(cat "$lock" 2>/dev/null) || return 0
  alive "$pid" && has_open "$pid" "$lock" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  if ! wait_for "$seconds" exited "$pid"; then
    kill -KILL "$pid" 2>/dev/null
    wait_for 5 exited "$pid"
    expect "jobsd (pid $pid) of $state stops within ${seconds}s of SIGTERM" "stopped" \
      "still running; killed with SIGKILL"
    return 1
  fi
}

# Takes the write lock of the SQLite database DB in another process (BEGIN EXCLUSIVE), creates
# the file LOCKED once it holds it, and keeps it until the file RELEASE exists (at most 60 s).
# Runs in the background; its pid is in $locker_pid.
hold_store_lock() {
  python3 - "$1" "$2" "$3" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
deadline = time.time() + 60
while not os.path.exists(sys.argv[3]) and time.time() < deadline:
    time.sleep(0.05)
db.execute("ROLLBACK")
PY
  locker_pid=$!
}

# Makes the test's temporary folder $work (/tmp/jobs-NAME-XXXXXX, mode 0755 so that the users
# a test makes reach it), enters it, and points $state, JOBS_STATE_DIR and JOBS_SOCKET into it.
# At exit: the test's cleanup_more (when it defines one), the jobsd of $state stopped, the
# users and groups named in made_users and made_groups removed, $work removed (kept, and said,
# with JOBS_TEST_KEEP=1).
new_work() {
  work=$(mktemp -d "/tmp/jobs-$1-XXXXXX") && chmod 755 "$work" && cd "$work" || exit 1
  state=$work/state
  export JOBS_STATE_DIR="$state" JOBS_SOCKET="$work/jobsd.sock"
  made_users=()
  made_groups=()
  trap remove_work EXIT
  trap 'exit 1' INT TERM HUP
}

remove_work() {
  local u g
  if declare -F cleanup_more >/dev/null; then
    cleanup_more
  fi
  stop_daemon "$state"
  for u in "${made_users[@]}"; do userdel "$u" 2>/dev/null; done
  for g in "${made_groups[@]}"; do groupdel "$g" 2>/dev/null; done
  cd /
  if [ "${JOBS_TEST_KEEP:-}" = 1 ]; then
    echo "kept $work"
  else
    rm -rf "$work"
  fi
}
