#!/usr/bin/env bash
# The man pages are lint clean, every option of every jobsctl verb appears in jobsctl(1), every
# jobsd option in jobsd(8), and both give the same configuration order.
#   test_man.sh MANDOC MAN_DIR JOBSCTL [JOBSD]
# JOBSD defaults to the jobsd binary of the same build tree as JOBSCTL.
set -uo pipefail
mandoc=$1
man_dir=$2
jobsctl=$3
jobsd=${4:-$(dirname "$jobsctl")/../jobsd/jobsd}
failures=0

for page in "$man_dir"/*.[0-9]; do
  out=$("$mandoc" -Tlint -W warning "$page" 2>&1)
  if [ -n "$out" ]; then
    echo "FAIL lint $page"
    echo "$out"
    failures=$((failures + 1))
  fi
done

rendered=$("$mandoc" -Tascii "$man_dir/jobsctl.1" | col -b)
verbs=$("$jobsctl" --help | awk '/^Subcommands:/ {on = 1; next} on && !NF {exit} on {print $1}')
for verb in $verbs; do
  grep -q -- "$verb" <<<"$rendered" || { echo "FAIL verb $verb missing from jobsctl.1"; failures=$((failures + 1)); }
  for option in $("$jobsctl" "$verb" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    [ "$option" = "--help" ] && continue
    if ! grep -q -- "$option" <<<"$rendered"; then
      echo "FAIL jobsctl $verb $option missing from jobsctl.1"
      failures=$((failures + 1))
    fi
  done
done

if [ ! -f "$man_dir/jobsd.8" ]; then
  echo "FAIL $man_dir/jobsd.8 is missing"
  failures=$((failures + 1))
elif [ ! -x "$jobsd" ]; then
  echo "FAIL no jobsd binary at $jobsd"
  failures=$((failures + 1))
else
  rendered=$("$mandoc" -Tascii "$man_dir/jobsd.8" | col -b)
  for option in $("$jobsd" --help | grep -oE -- '(^|[ ,])--?[a-z][a-z-]*' | grep -oE -- '--?[a-z][a-z-]*' | sort -u); do
    [ "$option" = "--help" ] || [ "$option" = "-h" ] && continue
    if ! grep -q -- "$option" <<<"$rendered"; then
      echo "FAIL jobsd $option missing from jobsd.8"
      failures=$((failures + 1))
    fi
  done
fi
# The configuration order is one table, the same in both pages: from its comment to the next
# section.
order_of() { awk '/^\.\\" The configuration order/ {on = 1} on && /^\.S[hs] / && !/Configuration order/ {exit} on' "$1"; }
if [ -z "$(order_of "$man_dir/jobsd.8")" ] || [ "$(order_of "$man_dir/jobsd.8")" != "$(order_of "$man_dir/jobsctl.1")" ]; then
  echo "FAIL the Configuration order of jobsd.8 and jobsctl.1 differ (or is missing):"
  diff <(order_of "$man_dir/jobsd.8") <(order_of "$man_dir/jobsctl.1")
  failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] && echo "man pages: lint clean, every option documented, one configuration order"
[ "$failures" -eq 0 ]
