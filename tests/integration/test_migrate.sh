#!/usr/bin/env bash
# jobsctl migrate through the real binary: golden files for every source format in
# tests/data/migrate (what --dry-run prints, the report and the exit code), then real writes
# into a temporary folder that jobsctl validate accepts. UPDATE=1 rewrites the golden files.
set -uo pipefail
jobsctl=$1
data=$2
man_page=$(cd "$(dirname "$0")/../.." && pwd)/man/jobsctl.1
work=$(mktemp -d /tmp/jobs-migrate-XXXXXX)
source "$(dirname "$0")/expect.sh"
cd "$data"

golden() { # NAME ARGS...: compares stdout, stderr and the exit code with expected/NAME.out
  local name=$1
  shift
  local actual
  # Whether pwsh is installed differs between machines: the golden files are made without it.
  actual=$(PATH=/nonexistent "$jobsctl" migrate --dry-run --timezone Europe/Berlin --out out "$@" \
    2>&1; echo "exit $?")
  if [ "${UPDATE:-}" = 1 ]; then
    printf '%s\n' "$actual" > "expected/$name.out"
  fi
  if [ "$actual" = "$(cat "expected/$name.out")" ]; then
    expect "golden $name" same same
  else
    expect "golden $name" "expected/$name.out" "differs:"
    diff -u "expected/$name.out" <(printf '%s\n' "$actual") | head -40
  fi
}

golden etc-crontab etc/crontab
golden cron.d cron.d/anacron cron.d/sysstat
golden user-crontab user.crontab
golden production production-job.json production-relative.json
golden edd-legacy edd-legacy.json
golden edd-v2 edd-v2.json
golden edd-v2-config-style edd-v2-config-style.json
golden registry registry.json

# Writing: every file written validates, nothing is overwritten, the report goes to stderr.
out=$("$jobsctl" migrate --timezone UTC --out "$work/jobs" etc/crontab user.crontab 2>/dev/null)
expect "migrate exits 2 when a line does not convert" "2" "$?"
expect "migrate says what it wrote" "12" "$(grep -c '^wrote ' <<<"$out")"
# MAILTO became email notifications: they need the daemon's SMTP server.
printf 'smtp:\n  host: 127.0.0.1\n  from: cron@example.com\n' > "$work/jobsd.yaml"
# Each says timeout: none, as cron never stops a command: a warning of validate.
expect "written files validate" "12 jobs, 0 errors, 12 warnings" \
  "$("$jobsctl" validate --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" 2>&1 | tail -1)"
before=$(cat "$work"/jobs/* | md5sum)
"$jobsctl" migrate --timezone UTC --out "$work/jobs" etc/crontab >/dev/null 2>"$work/again"
expect "a second run refuses to overwrite" "2" "$?"
expect "a second run names the existing file" \
  "etc/crontab:18: error: a job \"cron.hourly\" exists already ($work/jobs/cron.hourly.yaml); not overwritten (--out writes elsewhere)" \
  "$(grep -m1 'exists already' "$work/again")"
expect "a second run changes no file" "$before" "$(cat "$work"/jobs/* | md5sum)"

# Jobs are written disabled while cron still runs them, and the summary gives the command that
# enables them: it enables those, not the lines cron never ran (the user crontab, which cron
# refused whole).
printf '0 4 * * * /usr/local/bin/rotate\n0 4 * * FRI-SUN /usr/local/bin/never-ran\n' > "$work/held.crontab"
"$jobsctl" migrate --timezone UTC --out "$work/held" "$work/held.crontab" >/dev/null 2>"$work/held.report"
expect "the summary says how to enable the jobs" \
  "  jobsctl enable --jobs-dir '$work/held' rotate" "$(tail -1 "$work/held.report")"
expect "migrated jobs are disabled" "never-ran:no rotate:no" \
  "$("$jobsctl" list --jobs-dir "$work/held" | awk -F'\t' '{printf "%s%s:%s", sep, $1, $3; sep=" "}')"
rm -r "$work/held"
JOBS_DIR=/nonexistent "$jobsctl" migrate --timezone UTC --jobs-dir "$work/held" "$work/held.crontab" \
  >/dev/null 2>"$work/held.report"
expect "the command names the folder given by --jobs-dir too" \
  "  jobsctl enable --jobs-dir '$work/held' rotate" "$(tail -1 "$work/held.report")"
(eval "$(sed -n '$s/^  jobsctl /"$jobsctl" /p' "$work/held.report")") >/dev/null
expect "the summary's command enables them" "never-ran:no rotate:yes" \
  "$("$jobsctl" list --jobs-dir "$work/held" | awk -F'\t' '{printf "%s%s:%s", sep, $1, $3; sep=" "}')"
"$jobsctl" migrate --enable --timezone UTC --out "$work/enabled" "$work/held.crontab" etc/crontab \
  >/dev/null 2>"$work/enabled.report"
expect "--enable writes jobs enabled, not those cron never ran" \
  "cron.daily:yes cron.hourly:yes cron.monthly:yes cron.weekly:yes never-ran:no rotate:yes" \
  "$("$jobsctl" list --jobs-dir "$work/enabled" | awk -F'\t' '{printf "%s%s:%s", sep, $1, $3; sep=" "}')"
expect "--enable: no command to enable them" "0" "$(grep -c 'jobsctl enable' "$work/enabled.report")"

# Standard input (crontab -l | jobsctl migrate -), a forced user column, JSON output.
out=$(printf '0 3 * * * www-data /usr/bin/php /var/www/app/artisan schedule:run\n' |
  "$jobsctl" migrate --timezone UTC --crontab system --format json --out "$work/json" - 2>&1)
expect "stdin with --crontab system" "wrote $work/json/artisan.json (<stdin>:1)" "$(head -1 <<<"$out")"
expect "the JSON file keeps the user" "www-data" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_as"])' "$work/json/artisan.json")"
expect "JSON output validates" "1 job, 0 errors, 1 warning" \
  "$("$jobsctl" validate --jobs-dir "$work/json" 2>&1 | tail -1)"

# A '%' command runs as cron ran it: the here-document feeds the text to standard input.
printf '* * * * * tr a-z A-Z %%hello%%world\n' > "$work/percent.crontab"
"$jobsctl" migrate --timezone UTC --out "$work/percent" "$work/percent.crontab" >/dev/null 2>&1
run=$(python3 -c 'import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))["command"], end="")' \
  "$work/percent/tr.yaml")
expect "the here-document gives the command cron's input" "$(printf 'HELLO\nWORLD')" \
  "$(sh -c "$run")"

# The job's standard input is cron's bytes: the text after '%', ending in a newline that cron
# adds (Debian's cron and cronie alike: "if the last one wasn't a newline, write a newline"), so
# wc counts 4 and read succeeds. Each job runs for real and writes what it saw to a file.
{
  printf '* * * * * wc -c > %s/wc.out%%abc\n' "$work"
  printf '* * * * * read a && echo "got $a" > %s/read.out%%only\n' "$work"
  printf '* * * * * cat > %s/lines.out%%one%%two\\%%%%\n' "$work"
} > "$work/input.crontab"
"$jobsctl" migrate --timezone UTC --out "$work/input" "$work/input.crontab" >/dev/null 2>&1
for job in wc read cat; do
  "$jobsctl" run --no-record "$work/input/$job.yaml" >/dev/null 2>&1
done
expect "'wc -c%abc' counts cron's 4 bytes" "4" "$(tr -d ' ' < "$work/wc.out")"
expect "'read a%only' reads a line as under cron" "got only" "$(cat "$work/read.out")"
expect "further '%' are newlines, '\\%' a '%', and a newline ends the input" \
  "$(printf 'one\ntwo%%\n' | od -c)" "$(od -c < "$work/lines.out")"

# The job's environment is cron's: the crontab's settings (SHELL and MAILTO too) and cron's
# defaults for the rest.
printf 'MAILTO=""\n* * * * * root echo "$SHELL|${MAILTO-unset}|$PATH|$LOGNAME" > %s/env.out\n' \
  "$work" > "$work/env.crontab"
"$jobsctl" migrate --timezone UTC --crontab system --out "$work/env" "$work/env.crontab" \
  >/dev/null 2>&1
"$jobsctl" run --no-record "$work/env/echo.yaml" >/dev/null 2>&1
expect "SHELL, MAILTO, PATH and LOGNAME as cron set them" "/bin/sh||/usr/bin:/bin|root" \
  "$(cat "$work/env.out")"

# "not converted" counts entries: one JSON job with two bad steps, and one crontab line.
printf '{"job": {"id": "two-bad", "timezone": "UTC", "steps": [{"id": "a", "type": "nosuch"},\n  {"id": "b", "type": "nosuch"}]}}\n' \
  > "$work/bad.json"
printf '0 24 * * * /bin/true\n' > "$work/bad.crontab"
"$jobsctl" migrate --dry-run --timezone UTC --out "$work/bad" "$work/bad.json" "$work/bad.crontab" \
  >/dev/null 2>"$work/bad.report"
expect "two errors of one job" "2" "$(grep -c 'two-bad" not converted' "$work/bad.report")"
expect "the summary counts one job and one line" "migrate: 0 jobs to write, 0 differences, 2 not converted" \
  "$(tail -1 "$work/bad.report")"

# jobsctl(1) names no existing step type as one this release lacks.
expect "jobsctl(1) calls no existing step type (sql) missing" "0" \
  "$(grep -c 'step type this release does not have, such as' "$man_page")"

expect "bad --timezone" "jobsctl: --timezone: unknown time zone \"Europe/Berln\"; did you mean \"Europe/Berlin\"?" \
  "$("$jobsctl" migrate --timezone Europe/Berln etc/crontab 2>&1)"

if finish; then
  rm -rf "$work"
else
  echo "kept $work"
  exit 1
fi
