#!/usr/bin/env bash
# jobsd and jobsctl agree on every path and on the zone (jobsd/settings.hpp): the daemon's
# default zone in offline next, show and list; a socket only the configuration names; a user's
# own default folders, made by jobsd and found by every verb; jobsctl config and its origins.
#   test_config.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$1
jobsd=$2
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/daemon.sh"
work=$(mktemp -d /tmp/jobs-config-XXXXXX)
chmod 755 "$work"
cd "$work"
unset JOBS_CONFIG JOBS_DIR JOBS_STATE_DIR JOBS_LOG_DIR JOBS_SOCKET

cleanup() {
  stop_daemon "$work/state"
  stop_daemon "$work/home/.local/state/jobs"
  cd /
  rm -rf "$work"
}
trap cleanup EXIT

json() { # python expression on `j`, the JSON of standard input
  python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

# =================================================================================================
# 1. One configuration file names the folder, the state, a socket elsewhere and the zone; jobsctl
#    finds them all through JOBS_CONFIG alone.
# =================================================================================================
mkdir -p jobs elsewhere
cat >jobsd.yaml <<'YAML'
# the daemon's configuration
jobs_dir: jobs
state_dir: state
socket: elsewhere/control.sock
default_timezone: Europe/Berlin
YAML
printf 'schedule: "0 9 * * *"\ncommand: echo nine\n' >jobs/nine.yaml
printf 'timezone: Asia/Tokyo\nschedule: "0 9 * * *"\ncommand: echo tokyo\n' >jobs/tokyo.yaml
export JOBS_CONFIG=$work/jobsd.yaml

out=$("$jobsctl" config)
expect "config: the file, from the environment" "config	$work/jobsd.yaml	environment JOBS_CONFIG" \
  "$(grep '^config' <<<"$out")"
expect "config: the jobs folder, from the file's line 2" "jobs_dir	$work/jobs	file $work/jobsd.yaml:2" \
  "$(grep '^jobs_dir' <<<"$out")"
expect "config: the socket, from line 4" "socket	$work/elsewhere/control.sock	file $work/jobsd.yaml:4" \
  "$(grep '^socket' <<<"$out")"
expect "config: the log folder, a default made from the state folder" \
  "log_dir	$work/state/logs	default (STATE_DIR/logs)" "$(grep '^log_dir' <<<"$out")"
expect "config: the zone" "default_timezone	Europe/Berlin	file $work/jobsd.yaml:5" \
  "$(grep '^default_timezone' <<<"$out")"
expect "config --json: a flag wins over the file" "flag --jobs-dir other" \
  "$("$jobsctl" config --json --jobs-dir other | json 'j["jobs_dir"]["origin"], j["jobs_dir"]["where"], j["jobs_dir"]["value"]' | tr -d "(),'")"
expect "config --json: the environment wins over the file" "environment JOBS_STATE_DIR /s" \
  "$(JOBS_STATE_DIR=/s "$jobsctl" config --json | json 'j["state_dir"]["origin"], j["state_dir"]["where"], j["state_dir"]["value"]' | tr -d "(),'")"

# The instant jobsd will run nine.yaml: 09:00 in Berlin, the configuration's zone.
berlin_nine=$(python3 - <<'PY'
import datetime, zoneinfo
berlin = zoneinfo.ZoneInfo("Europe/Berlin")
now = datetime.datetime.now(berlin)
t = now.replace(hour=9, minute=0, second=0, microsecond=0)
if t <= now:
    t = (t + datetime.timedelta(days=1)).replace(hour=9)
    t = datetime.datetime(t.year, t.month, t.day, 9, tzinfo=berlin)
print(t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
PY
)
expect "zone: offline next gives 09:00 Berlin time" "$berlin_nine" \
  "$("$jobsctl" next nine -n 1 --json | json 'j[0]["utc"]')"
expect "zone: offline next names the zone" "Europe/Berlin" \
  "$("$jobsctl" next nine -n 1 --json | json 'j[0]["zone"]')"
expect "zone: next of an expression, in the daemon's zone too" "$berlin_nine" \
  "$("$jobsctl" next '0 9 * * *' -n 1 --json | json 'j[0]["utc"]')"
expect "zone: offline show" "$berlin_nine" "$("$jobsctl" show nine --json | json 'j["next"][0]["utc"]')"
offline_list=$("$jobsctl" list --json | json '[(x["id"], x["next_utc"]) for x in j]')
expect "zone: offline list" "[('nine', '$berlin_nine'), ('tokyo', " "${offline_list%\'20*}"

"$jobsd"
expect "jobsd starts on the configuration alone" "0" "$?"
expect "jobsd: its socket is where the configuration says" "yes" \
  "$([ -S elsewhere/control.sock ] && echo yes)"
expect "status finds the socket only the configuration names" "0" \
  "$("$jobsctl" status >/dev/null; echo $?)"
daemon_list=$("$jobsctl" list --json | json '[(x["id"], x["next_utc"]) for x in j]')
expect "zone: the daemon's list gives the same instants as offline list" "$offline_list" "$daemon_list"
expect "zone: the daemon's Berlin queue fires next at 09:00 Berlin time" "${berlin_nine%Z}" \
  "$("$jobsctl" status --json | json '[q["next_fire"][:19] for q in j["queues"] if q["zone"] == "Europe/Berlin"][0]')"
expect "trigger finds the job" "success" \
  "$("$jobsctl" trigger nine --wait --json | json 'j["status"]')"
expect "history reads the configured state" "nine" "$("$jobsctl" history --json | json 'j[0]["job_id"]')"
stop_daemon "$work/state"

# A configuration with errors stops every verb at once, with its place.
printf 'jobs_dir: jobs\nsocket: [1]\n' >broken.yaml
out=$(JOBS_CONFIG=$work/broken.yaml "$jobsctl" list 2>&1)
expect "a broken configuration: list exits 2" "2" "$(JOBS_CONFIG=$work/broken.yaml "$jobsctl" list >/dev/null 2>&1; echo $?)"
expect "a broken configuration: the error has its place" "1" \
  "$(grep -c "^$work/broken.yaml:2:9: error: " <<<"$out")"
expect "a named configuration that is missing is an error" "1" \
  "$(JOBS_CONFIG=$work/none.yaml "$jobsctl" status 2>&1 | grep -c "cannot read $work/none.yaml: No such file or directory")"
expect "jobsd refuses it too" "2" "$("$jobsd" --config "$work/none.yaml" --foreground >/dev/null 2>&1; echo $?)"
expect "JOBSD_CONFIG is not read, and jobsd says so" "1" \
  "$(env -u JOBS_CONFIG JOBSD_CONFIG=$work/jobsd.yaml "$jobsd" --check-config --config "$work/jobsd.yaml" 2>&1 | grep -c "JOBSD_CONFIG is not read")"
unset JOBS_CONFIG

# =================================================================================================
# 2. A user other than root, with nothing configured: jobsd makes the default jobs folder, and
#    every verb finds the same job there.
# =================================================================================================
if [ "$(id -u)" -ne 0 ]; then
  echo "skip: part 2 needs root (it runs as nobody)"
  finish
  exit $?
fi
mkdir home
chown 65534:65534 home
as_user() { # a command as nobody, with HOME=$work/home and nothing else of ours
  env -i PATH=/usr/bin:/bin HOME="$work/home" setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
expect "user: jobsd refuses a named jobs folder that does not exist" "1" \
  "$(as_user "$jobsd" --jobs-dir "$work/home/missing" >/dev/null 2>&1; echo $?)"
expect "user: and makes none" "no" "$([ -e home/missing ] && echo yes || echo no)"
expect "user: its jobsd.log says why it did not start" \
  "error cannot start: the jobs folder $work/home/missing does not exist" \
  "$(tail -n 1 home/.local/state/jobs/logs/jobsd.log | cut -d' ' -f2-)"
as_user "$jobsd"
expect "user: jobsd starts with no arguments" "0" "$?"
expect "user: it made the default jobs folder" "yes" \
  "$([ -d home/.config/jobs/jobs.d ] && echo yes)"
expect "user: and said so in jobsd.log" "1" \
  "$(grep -c "info made the jobs folder $work/home/.config/jobs/jobs.d: it is the default one and did not exist" home/.local/state/jobs/logs/jobsd.log)"
expect "user: new writes into the default jobs folder" "0" \
  "$(as_user "$jobsctl" new hello >/dev/null 2>&1; echo $?)"
expect "user: the file is there" "yes" "$([ -f home/.config/jobs/jobs.d/hello.yaml ] && echo yes)"
expect "user: validate finds it" "0" "$(as_user "$jobsctl" validate >/dev/null 2>&1; echo $?)"
expect "user: show finds it" "hello" "$(as_user "$jobsctl" show hello --json | json 'j["id"]')"
expect "user: run finds it" "0" "$(as_user "$jobsctl" run hello >/dev/null 2>&1; echo $?)"
as_user "$jobsctl" reload >/dev/null 2>&1
expect "user: list (through the daemon) finds it" "hello" \
  "$(as_user "$jobsctl" list --json | json '",".join(x["id"] for x in j)')"
expect "user: trigger finds it" "success" \
  "$(as_user "$jobsctl" trigger hello --wait --json | json 'j["status"]')"
expect "user: status reaches the daemon in the user's state folder" "$work/home/.config/jobs/jobs.d" \
  "$(as_user "$jobsctl" status --json | json 'j["jobs_dir"]')"
stop_daemon "$work/home/.local/state/jobs"

finish
