#!/usr/bin/env bash
# jobsd's metrics, end to end: the metrics command (raw JSON over the socket) and
# metrics.textfile after successes, failures, a trigger, skipped fires and a reload with a broken
# file; promtool check metrics passes on both with no lint complaint; removed jobs stop being
# exported; a restart, and a reload adding a job back, keep the last success; a restart starts the
# counters at 0; the textfile is never written through a symbolic link (told once in jobsd.log)
# and an idle jobsd does not wake for it.
#
#   test_metrics.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work metrics
command -v promtool >/dev/null || { echo "promtool (Debian package prometheus) is needed"; exit 1; }

mkdir jobs prom
cat > jobs/ok.yaml <<'YAML'
command: "true"
YAML
cat > jobs/fail.yaml <<'YAML'
command: "false"
YAML
# Fires every second and runs for 3: the fires meanwhile are skipped (concurrency: forbid).
cat > jobs/slow.yaml <<'YAML'
schedule: "* * * * * *"
concurrency: forbid
command: "sleep 3"
YAML
cat > jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
grace_period: 1s
metrics:
  textfile: $work/prom/jobs.prom
YAML
start_daemon() { "$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state"; }

# The metrics command's text, as the socket gives it (raw JSON: no jobsctl verb).
metrics() {
  python3 - "$work/jobsd.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
f = s.makefile("rb")
json.loads(f.readline())  # hello
s.sendall(b'{"v":1,"id":1,"cmd":"metrics","args":{}}\n')
reply = json.loads(f.readline())
sys.stdout.write(reply["result"]["text"])
PY
}
# value NAME{LABELS} [FILE]: the sample's value in FILE (default: the metrics command's text).
value() {
  local text
  if [ $# -gt 1 ]; then text=$(cat "$2"); else text=$(metrics); fi
  awk -v name="$1" '$1 == name { print $2 }' <<<"$text"
}
at_least() { [ "$(value "$2" ${3:+"$3"})" -ge "$1" ] 2>/dev/null; }
is() { [ "$(value "$2" ${3:+"$3"})" = "$1" ]; }
# promtool check metrics on FILE: its exit status and everything it says.
check() { promtool check metrics < "$1" 2>&1; echo "exit $?"; }

start_daemon
expect "jobsd starts with metrics.textfile" "0" "$?"

# 1. Executions by status, a trigger, last success and last run, skipped fires, lateness.
"$jobsctl" trigger ok --wait > /dev/null
expect "a triggered job succeeds" "0" "$?"
"$jobsctl" trigger fail --wait > /dev/null
expect "a failing job fails" "1" "$?"
metrics > m1.txt
expect "the triggered job's success (what a Prometheus scrape looks for)" "1" \
  "$(value 'jobs_executions_total{job_id="ok",status="success"}' m1.txt)"
expect "the failing job's failure" "1 0" \
  "$(value 'jobs_executions_total{job_id="fail",status="failed"}' m1.txt) $(value 'jobs_executions_total{job_id="fail",status="success"}' m1.txt)"
expect "the triggered job's duration observed once" "1" \
  "$(value 'jobs_execution_duration_seconds_count{job_id="ok"}' m1.txt)"
expect "its +Inf bucket holds it" "1" \
  "$(value 'jobs_execution_duration_seconds_bucket{job_id="ok",le="+Inf"}' m1.txt)"
success=$(value 'jobs_last_success_timestamp_seconds{job_id="ok"}' m1.txt)
now=$(date +%s)
expect "the last success is a time of the last minute" "yes" \
  "$(awk -v t="$success" -v now="$now" 'BEGIN { print (t > now - 60 && t <= now + 1) ? "yes" : "no: " t }')"
expect "a job that never succeeded has no last success" "" \
  "$(value 'jobs_last_success_timestamp_seconds{job_id="fail"}' m1.txt)"
expect "the failure is its last run" "1" \
  "$(grep -c '^jobs_last_run_timestamp_seconds{job_id="fail"} ' m1.txt)"
wait_for 5 test -f prom/jobs.prom
expect "the textfile is written at start" "0" "$?"
wait_for 10 at_least 1 'jobs_fires_skipped_total{job_id="slow"}'
expect "fires of a job still running are counted as skipped" "0" "$?"
wait_for 10 at_least 1 'jobs_running{job_id="slow"}'
expect "the running job is running" "0" "$?"
# The metrics change every second now (fires skipped, executions): the textfile is not
# rewritten each time. Over 5 s its inode (each write is a new file) changes once at most.
inodes=$(for _ in $(seq 50); do stat -c %i prom/jobs.prom; sleep 0.1; done | uniq | wc -l)
expect "the textfile is rewritten at most every 15 s" "yes" \
  "$([ "$inodes" -le 2 ] && echo yes || echo "no: $inodes versions in 5 s")"
expect "scheduled fires observed in the lateness histogram" "0" \
  "$(at_least 1 jobs_fire_lateness_seconds_count; echo $?)"
expect "per zone: the UTC queue's limit" "4" "$(value 'jobs_queue_limit{zone="UTC"}' m1.txt)"
expect "build info" "1" "$(grep -c '^jobs_build_info{version="[^"]*"} 1$' m1.txt)"
expect "no reload yet, three jobs" "0 3" \
  "$(value jobs_reloads_total m1.txt) $(value jobs_jobs_loaded m1.txt)"

# 2. A reload with a broken file and a removed job.
printf 'schedule: "not cron"\ncommand: true\n' > jobs/broken.yaml
rm jobs/fail.yaml
wait_for 10 is 1 jobs_job_files_with_errors
expect "the broken file is counted" "0" "$?"
metrics > m2.txt
expect "the reload is counted" "0" "$(at_least 1 jobs_reloads_total m2.txt; echo $?)"
expect "the removed job is no longer exported" "0" "$(grep -c 'job_id="fail"' m2.txt)"
expect "the kept job keeps its counters" "1" \
  "$(value 'jobs_executions_total{job_id="ok",status="success"}' m2.txt)"
expect "promtool check metrics passes on the metrics command's text, no lint complaint" \
  "exit 0" "$(check m2.txt)"

# 3. The textfile: written at start, then at most every 15 s when the metrics change.
expect "mode 0644, nothing left beside it" "644 jobs.prom" \
  "$(stat -c %a prom/jobs.prom) $(ls -A prom | tr '\n' ' ' | sed 's/ $//')"
wait_for 30 is 1 jobs_job_files_with_errors prom/jobs.prom
expect "the textfile follows the metrics within 15 s" "0" "$?"
expect "promtool check metrics passes on the textfile" "exit 0" "$(check prom/jobs.prom)"

# 4. An idle jobsd (no scheduled job) does not wake for the textfile.
rm jobs/slow.yaml jobs/broken.yaml
wait_for 10 eval '[ "$(value jobs_jobs_loaded)" = 1 ] && [ "$(value "jobs_queue_running{zone=\"UTC\"}")" = 0 ]'
expect "only the manual job is left, nothing runs" "0" "$?"
wait_for 30 eval 'is 0 jobs_job_files_with_errors prom/jobs.prom && is 0 "jobs_queue_running{zone=\"UTC\"}" prom/jobs.prom'
expect "the textfile has the last change" "0" "$?"
pid=$(cat "$state/jobsd.lock")
switches() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$pid/task/$pid/status"; }
before=$(switches)
sleep 3 # a window to measure, not a wait for something
expect "the idle loop does not wake in 3 s" "$before" "$(switches)"

# 5. A restart: the last success from the store, the counters at 0, the start time.
started=$(value jobs_start_time_seconds)
stop_daemon "$state"
# A link where the textfile goes: jobsd must not write through it.
echo "victim" > victim.txt
rm prom/jobs.prom
ln -s "$work/victim.txt" prom/jobs.prom
start_daemon
expect "jobsd starts again" "0" "$?"
metrics > m3.txt
expect "the last success survives the restart" "$success" \
  "$(value 'jobs_last_success_timestamp_seconds{job_id="ok"}' m3.txt)"
expect "the counters start at 0" "0" "$(value 'jobs_executions_total{job_id="ok",status="success"}' m3.txt)"
expect "a new start time" "yes" \
  "$(awk -v a="$started" -v b="$(value jobs_start_time_seconds m3.txt)" 'BEGIN { print (b > a) ? "yes" : "no" }')"
log="$state/logs/jobsd.log"
wait_for 10 grep -q "metrics.textfile: .*symbolic link" "$log"
expect "the link is refused and told in jobsd.log" "0" "$?"
expect "the link's target is untouched" "victim link" \
  "$(cat victim.txt) $(test -L prom/jobs.prom && echo link)"
rm prom/jobs.prom
"$jobsctl" trigger ok --wait > /dev/null
wait_for 30 is 1 'jobs_executions_total{job_id="ok",status="success"}' prom/jobs.prom
expect "once the link is gone the textfile is written again" "0" "$?"
expect "the failure was told once, its end once" "1 1" \
  "$(grep -c "metrics.textfile: " "$log") $(grep -c "metrics.textfile .* is written again" "$log")"

# 6. A job removed and added back by reloads: its last success is read from the store again.
success=$(value 'jobs_last_success_timestamp_seconds{job_id="ok"}')
mv jobs/ok.yaml ok.yaml
"$jobsctl" reload >/dev/null
wait_for 10 is 0 jobs_jobs_loaded
expect "the job moved out is no longer loaded" "0 0" \
  "$? $(metrics | grep -c 'job_id="ok"')"
mv ok.yaml jobs/ok.yaml
"$jobsctl" reload >/dev/null
wait_for 10 is 1 jobs_jobs_loaded
expect "the job moved back is loaded" "0" "$?"
expect "its last success is exported again, as the store has it" "$success" \
  "$(value 'jobs_last_success_timestamp_seconds{job_id="ok"}')"

finish
