#!/usr/bin/env bash
# The real jobsctl binary answers the specification's worked examples exactly, prints JSON,
# and exits 2 with a positioned error on bad input.
set -uo pipefail
jobsctl=$1
source "$(dirname "$0")/expect.sh"

utc() { "$jobsctl" next "$@" --json | python3 -c 'import json,sys; print(" ".join(f["utc"] for f in json.load(sys.stdin)))'; }

expect "gap New York" "2025-03-09T07:00:00Z 2025-03-10T06:30:00Z" \
  "$(utc '30 2 * * *' --tz America/New_York --from 2025-03-08T12:00Z -n 2)"
expect "overlap New York" "2025-11-02T05:30:00Z 2025-11-03T06:30:00Z" \
  "$(utc '30 1 * * *' --tz America/New_York --from 2025-11-01T12:00Z -n 2)"
expect "hourly through the overlap" \
  "2025-11-02T04:00:00Z 2025-11-02T05:00:00Z 2025-11-02T06:00:00Z 2025-11-02T07:00:00Z" \
  "$(utc '0 * * * *' --tz America/New_York --from 2025-11-02T03:30Z -n 4)"
expect "Lord Howe half-hour gap" "2025-10-04T15:30:00Z 2025-10-05T15:15:00Z" \
  "$(utc '15 2 * * *' --tz Australia/Lord_Howe --from 2025-10-04T00:00Z -n 2)"
expect "Santiago midnight gap" "2024-09-07T04:00:00Z 2024-09-08T04:00:00Z 2024-09-09T03:00:00Z" \
  "$(utc '0 0 * * *' --tz America/Santiago --from 2024-09-06T12:00Z -n 3)"
expect "Dublin negative DST" "2025-03-29T01:30:00Z 2025-03-30T01:00:00Z 2025-03-31T00:30:00Z" \
  "$(utc '30 1 * * *' --tz Europe/Dublin --from 2025-03-29T00:00Z -n 3)"
expect "Apia skipped day" \
  "2011-12-28T22:00:00Z 2011-12-29T22:00:00Z 2011-12-30T22:00:00Z 2011-12-31T22:00:00Z" \
  "$(utc '0 12 * * *' --tz Pacific/Apia --from 2011-12-28T00:00Z -n 4)"
expect "leap day horizon" "2104-02-29T00:00:00Z" "$(utc '0 0 29 2 *' --from 2096-03-01T00:00Z -n 1)"
expect "CRON_TZ prefix" "2025-03-09T07:00:00Z" \
  "$(utc 'CRON_TZ=America/New_York 30 2 * * *' --from 2025-03-08T12:00Z -n 1)"
expect "dst-gap skip" "2025-03-10T06:30:00Z" \
  "$(utc '30 2 * * *' --tz America/New_York --from 2025-03-08T12:00Z -n 1 --dst-gap skip)"

json=$("$jobsctl" next '30 2 * * *' --tz America/New_York --from 2025-03-08T12:00Z -n 2 --json)
expect "json fields" \
  '2025-03-09T07:00:00Z|2025-03-09T03:00:00-04:00|DST gap: 02:30 shifted to 03:00|EDT;2025-03-10T06:30:00Z|2025-03-10T02:30:00-04:00|None|EDT' \
  "$(python3 -c 'import json,sys; print(";".join("|".join(str(f[k]) for k in ("utc","local","note","abbrev")) for f in json.load(sys.stdin)))' <<<"$json")"

expect "tsv row with overlap note" \
  "$(printf 'Sun 2025-11-02 01:30:00 -04:00 EDT\t2025-11-02T05:30:00Z\tDST overlap: first 01:30 only')" \
  "$("$jobsctl" next '30 1 * * *' --tz America/New_York --from 2025-11-01T12:00Z -n 1 | cut -f1-3)"
expect "interval overlap notes" \
  "DST overlap: first 01:00 of two|DST overlap: second 01:00 of two" \
  "$("$jobsctl" next '0 * * * *' --tz America/New_York --from 2025-11-02T04:30Z -n 2 | cut -f3 | paste -sd'|')"

stderr=$("$jobsctl" next '0 24 * * *' 2>&1 >/dev/null)
code=$?
expect "bad field exit code" "2" "$code"
expect "bad field message" "$(printf 'jobsctl: error: field 2 (hour): 24 is out of range 0-23\n  0 24 * * *\n    ^~')" "$stderr"
stderr=$("$jobsctl" next '* * * * *' --tz Europe/Berln 2>&1 >/dev/null)
code=$?
expect "bad zone exit code" "2" "$code"
expect "bad zone message" 'jobsctl: error: unknown time zone "Europe/Berln"; did you mean "Europe/Berlin"?' "$stderr"
"$jobsctl" next '* * * * *' --from someday >/dev/null 2>&1
expect "bad --from exit code" "2" "$?"
expect "--from takes the time forms: after tomorrow 03:00 in the zone" "4" \
  "$("$jobsctl" next '0 * * * *' --tz Asia/Tokyo --from 'tomorrow 03:00' -n 1 | cut -f1 | cut -d' ' -f3 | cut -d: -f1 | sed 's/^0//')"
"$jobsctl" next >/dev/null 2>&1
expect "missing expression exit code" "2" "$?"
"$jobsctl" --help >/dev/null
expect "--help exit code" "0" "$?"

finish
