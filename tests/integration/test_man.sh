#!/usr/bin/env bash
# The man pages are lint clean, every option of every jobsctl verb (and of a verb's own verbs,
# connections test), by each of its names, appears in jobsctl(1), every jobsd option in jobsd(8),
# and both give the same configuration order.
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
# The verbs of `jobsctl WORDS...` (a verb's own verbs: connections list), as --help lists them.
verbs_of() { "$jobsctl" "$@" --help | awk '/^Subcommands:/ {on = 1; next} on && !NF {exit} on {print $1}'; }
# Every name of every option of `jobsctl WORDS...`, short ones and other names too (-n, --limit,
# --count), as the Options of its --help list them.
options_of() {
  "$jobsctl" "$@" --help | awk '/^Options:/ {on = 1; next} on && !NF {exit} on && /^  -/ {print $1}' |
    tr ',' '\n' | sort -u
}
# Whether the rendered page has WORD as a word of its own (--limit, not --limited).
documented() { grep -qE -- "(^|[^a-z-])$1([^a-z-]|\$)" <<<"$rendered"; }
for verb in $(verbs_of); do
  documented "$verb" || { echo "FAIL verb $verb missing from jobsctl.1"; failures=$((failures + 1)); }
  for command in "$verb" $(verbs_of "$verb" | sed "s/^/$verb:/"); do
    for option in $(options_of ${command/:/ }); do
      [ "$option" = "--help" ] || [ "$option" = "-h" ] && continue
      if ! documented "$option"; then
        echo "FAIL jobsctl ${command/:/ } $option missing from jobsctl.1"
        failures=$((failures + 1))
      fi
    done
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
