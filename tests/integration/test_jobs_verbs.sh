#!/usr/bin/env bash
# validate, list, show, next JOB, enable and disable, new (every template) and delete through the
# real jobsctl binary, on a temporary copy of a jobs folder (removed on success, kept and named on
# failure).
set -uo pipefail
jobsctl=$1
source_jobs=$2
work=$(mktemp -d /tmp/jobs-verbs-XXXXXX)
source "$(dirname "$0")/expect.sh"

cp -r "$source_jobs" "$work/jobs"
cd "$work"
export JOBS_DIR=jobs

expect "validate the examples" "6 jobs, 0 errors, 0 warnings" "$("$jobsctl" validate)"
expect "list ids" "clock-new-york clock-tokyo daily-cleanup heartbeat nightly-report report-digest" \
  "$("$jobsctl" list | cut -f1 | paste -sd' ')"
expect "list --json" \
  "clock-new-york:True clock-tokyo:True daily-cleanup:False heartbeat:True nightly-report:True report-digest:True" \
  "$("$jobsctl" list --json | python3 -c 'import json,sys; print(" ".join("%s:%s" % (j["id"], j["enabled"]) for j in json.load(sys.stdin)))')"
expect "show --json" "nightly-report America/New_York 3" \
  "$("$jobsctl" show nightly-report --json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["id"], j["timezone"], len(j["steps"]))')"
expect "next JOB follows the job's zone" \
  "$(printf 'Mon 2025-03-10 02:30:00 -04:00 EDT\t2025-03-10T06:30:00Z\t')" \
  "$("$jobsctl" next nightly-report --from 2025-03-08T12:00Z -n 1 | cut -f1-3)"

# A bad file is reported with its place and does not hide the good ones.
printf 'name: broken\nschedule: 0 24 * * *\ncommand: ls\n' > jobs/broken.yaml
out=$("$jobsctl" validate)
code=$?
expect "validate exit code on an error" "2" "$code"
expect "validate names the place" "jobs/broken.yaml:2:13: error: schedule: field 2 (hour): 24 is out of range 0-23" \
  "$(head -1 <<<"$out")"
expect "validate summary" "6 jobs, 1 error, 0 warnings" "$(tail -1 <<<"$out")"
expect "github annotation" \
  "::error file=jobs/broken.yaml,line=2,col=13::schedule: field 2 (hour): 24 is out of range 0-23" \
  "$("$jobsctl" validate --format github | head -1)"
expect "json finding" "error $work/jobs/broken.yaml 2 13" \
  "$("$jobsctl" validate --format json | python3 -c 'import json,sys; f=json.loads(sys.stdin.readline()); print(f["severity"], f["path"], f["line"], f["column"])')"
expect "list still lists the good jobs" "6" "$("$jobsctl" list 2>/dev/null | wc -l)"
rm jobs/broken.yaml

# disable and enable change one value and nothing else.
cp jobs/nightly-report.yaml before.yaml
expect "disable" "jobs/nightly-report.yaml: disabled" "$("$jobsctl" disable nightly-report)"
expect "disable diff" "> enabled: false" "$(diff before.yaml jobs/nightly-report.yaml | grep '^[<>]')"
expect "disable again is a no-op" "jobs/nightly-report.yaml: already disabled" \
  "$("$jobsctl" disable nightly-report)"
expect "list shows it disabled" "no" "$("$jobsctl" list | awk -F'\t' '$1 == "nightly-report" {print $3}')"
"$jobsctl" enable nightly-report >/dev/null
expect "enable diff" "> enabled: true" "$(diff before.yaml jobs/nightly-report.yaml | grep '^[<>]')"
"$jobsctl" disable no-such-job 2>/dev/null
expect "unknown job exit code" "2" "$?"

# new writes a valid, commented file and never overwrites; delete asks or needs --yes.
expect "new" "jobs/backup.yaml" "$("$jobsctl" new backup)"
expect "new validates" "7 jobs, 0 errors, 0 warnings" "$("$jobsctl" validate)"
"$jobsctl" new backup >/dev/null 2>&1
expect "new refuses an existing id" "2" "$?"
expect "new json from a template" "jobs/export.json" "$("$jobsctl" new export --template command --format json)"
expect "new json validates" "8 jobs, 0 errors, 0 warnings" "$("$jobsctl" validate)"

# new writes no zone unless --timezone names one: jobsd's default_timezone applies.
printf 'default_timezone: Asia/Tokyo\n' >tokyo.yaml
for format in yaml json; do
  path=$("$jobsctl" new "zoneless-$format" --format "$format" --jobs-dir zones)
  expect "new writes no timezone ($format)" "0" "$(grep -cE '^ *"?timezone"? *:' "$path")"
  expect "the configured default zone applies ($format)" "Asia/Tokyo" \
    "$("$jobsctl" show "zoneless-$format" --json --jobs-dir zones --config tokyo.yaml |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["timezone"])')"
done
"$jobsctl" new zoned --timezone Europe/Paris --jobs-dir zones >/dev/null
expect "new --timezone writes it" "timezone: Europe/Paris" \
  "$(grep -o '^timezone: [^ ]*' zones/zoned.yaml)"
out=$("$jobsctl" new bad --tz Europe/Pariss --jobs-dir zones 2>&1)
expect "new --tz (the name every verb takes) with an unknown zone" \
  '2 jobsctl: --tz: unknown time zone "Europe/Pariss"; did you mean "Europe/Paris"?' "$? $out"

# new --template TYPE for every step type jobsctl schema knows, in both formats: the file
# validates against a daemon config that has the connection and SMTP server it names, every key
# of its step has a comment (YAML), and the YAML and JSON forms are the same job.
mkdir templates
printf 'connections:\n  warehouse: { type: sqlite, path: warehouse.db }\nsmtp: { host: 127.0.0.1 }\n' \
  > templates.yaml
types=$("$jobsctl" schema | python3 -c '
import json, sys
steps = json.load(sys.stdin)["properties"]["steps"]["items"]["oneOf"]
print(" ".join(s["properties"]["type"]["const"] for s in steps))')
expect "schema lists the step types" "yes" "$([ "$(wc -w <<<"$types")" -ge 13 ] && echo yes)"
for type in $types; do
  for format in yaml json; do
    path=$("$jobsctl" new "$type-$format" --template "$type" --format "$format" --jobs-dir templates)
    expect "new --template $type --format $format" "templates/$type-$format.$format" "$path"
    out=$(PATH=/nonexistent "$jobsctl" validate --config templates.yaml "$path")
    expect "the $type template validates ($format)" "0" "$?"
    # pwsh is not installed: a powershell step warns about that, and only that.
    warnings=$([ "$type" = powershell ] && echo 1 || echo 0)
    expect "the $type template has no finding ($format)" \
      "1 job, 0 errors, $warnings warning$([ "$warnings" = 1 ] || echo s)" "$(tail -1 <<<"$out")"
  done
  expect "every key of the $type template says what it does" "" \
    "$(awk '/^steps:/ {on = 1; next}
            on && /^ *#/ {above = 1; next}
            on && !/^  - id:/ && !/ # / && !above {print}
            {above = 0}' "templates/$type-yaml.yaml")"
  expect "the $type template is the same job in YAML and JSON" "same" \
    "$(python3 - <("$jobsctl" show "$type-yaml" --json --jobs-dir templates) \
      <("$jobsctl" show "$type-json" --json --jobs-dir templates) <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for job in (a, b):
    for key in ("id", "name", "path", "next"):
        job.pop(key, None)
print("same" if a == b else "differs: %s\n%s" % (a, b))
PY
)"
done
expect "a secret in a template is a reference" "" \
  "$(grep -hE '(token|password)' templates/*.yaml | grep -vE '\$\{secret\.[A-Z_]+\}|token_env|secret.NAME')"
"$jobsctl" new nothing --template sqll --jobs-dir templates 2>/dev/null
expect "new with an unknown template" "2" "$?"

"$jobsctl" delete backup </dev/null >/dev/null 2>&1
expect "delete without --yes off a terminal" "2" "$?"
expect "delete --yes" "deleted jobs/backup.yaml" "$("$jobsctl" delete backup --yes)"
rm jobs/export.json

# The JSON Schema accepts every example job and rejects a typo.
python=python3
$python -c 'import jsonschema, yaml' 2>/dev/null || python=/usr/bin/python3
"$jobsctl" schema > schema.json
cp -r "$source_jobs" examples
printf 'comand: ls\n' > examples/typo.yaml
expect "schema judges the examples" \
  "clock-new-york.json:ok clock-tokyo.yaml:ok daily-cleanup.json:ok heartbeat.yaml:ok nightly-report.yaml:ok report-digest.yaml:ok typo.yaml:rejected" \
  "$($python - schema.json examples <<'PY'
import json, os, sys
import jsonschema, yaml
schema = json.load(open(sys.argv[1]))
out = []
for name in sorted(os.listdir(sys.argv[2])):
    doc = yaml.safe_load(open(os.path.join(sys.argv[2], name)))
    try:
        jsonschema.validate(doc, schema)
        out.append(name + ":ok")
    except jsonschema.ValidationError:
        out.append(name + ":rejected")
print(" ".join(out))
PY
)"
"$jobsctl" schema sqll >/dev/null 2>&1
expect "schema of an unknown type" "2" "$?"

if finish; then
  rm -rf "$work"
else
  echo "kept $work"
  exit 1
fi
