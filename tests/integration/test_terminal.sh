#!/usr/bin/env bash
# jobsctl on a terminal and off it (jobsctl(1), Terminal output): statuses and "error:" in colour
# only on a terminal (per stream), --color auto|always|never, NO_COLOR and TERM=dumb; the glyphs
# (✔ ▶ │) only on a terminal with a UTF-8 locale, ASCII stand-ins else; a job's own escape
# sequences still rendered visibly (^[) with --color=always; tables aligned as shown; $PAGER
# (default less -FRX, LESS left alone) for history and logs on a terminal, not with --no-pager,
# an empty PAGER, off a terminal or with logs -f, and a pager that quits early is no error;
# --tsv prints the header; "1 step"; a cancelled step and execution are not counted as failed.
# The terminal is a pseudo-terminal from script(1).
#
#   test_terminal.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/expect.sh"
source "$here/daemon.sh"
new_work terminal
export TZ=UTC JOBS_DIR="$work/jobs" TERM=xterm LANG=C.UTF-8 PAGER=cat
unset LC_ALL LC_CTYPE NO_COLOR LESS
esc=$'\e'
mkdir jobs
# ok prints an escape sequence of its own: it must reach the terminal as ^[, colour or not.
cat > jobs/ok.yaml <<'YAML'
id: ok
schedule: "0 3 * * *"
steps:
  - id: s1
    type: shell
    run: printf 'a\033[31mb\n'
YAML
cat > jobs/big.yaml <<'YAML'
id: big
schedule: "0 3 * * *"
steps:
  - id: s1
    type: shell
    run: seq 1 40000
YAML
cat > jobs/slow.yaml <<'YAML'
id: slow
schedule: "0 3 * * *"
steps:
  - id: s1
    type: shell
    run: sleep 60
YAML
mkdir bad
printf 'id: bad\nschedule: "0 3 * * *"\nsteps:\n  - id: s1\n    type: shel\n    run: "true"\n' \
  >bad/bad.yaml

# on_tty FILE ARG...: jobsctl ARG... on a pseudo-terminal; what the terminal got in FILE (its
# CR LF line ends as LF).
on_tty() {
  local file=$1
  shift
  script -qec "$(printf '%q ' "$jobsctl" "$@")" /dev/null </dev/null | tr -d '\r' >"$file"
}
# escapes FILE: how many lines hold an ESC byte.
escapes() { grep -c "$esc" "$1"; }
# foreign_escapes FILE: how many lines hold an ESC byte that is not one of jobsctl's colours.
foreign_escapes() { sed -E "s/$esc\[(3[0-9]|0)m//g" "$1" | grep -c "$esc"; }
# non_ascii FILE: how many lines hold a byte outside ASCII.
non_ascii() { LC_ALL=C grep -c -P '[\x80-\xff]' "$1"; }
has() { grep -qF -- "$2" "$1" && echo yes || echo no; }

# --- colour and glyphs ----------------------------------------------------------------------
"$jobsctl" run ok >pipe.txt
expect "run into a pipe: no colour" "0" "$(escapes pipe.txt)"
expect "run into a pipe: ASCII only" "0" "$(non_ascii pipe.txt)"
expect "run into a pipe: ASCII marks" "yes" "$(has pipe.txt "+ s1 success")"
expect "run into a pipe: the job's ESC shown as ^[" "yes" "$(has pipe.txt "s1 | a^[[31mb")"
expect "run: 1 step, not 1 steps" "yes" "$(has pipe.txt "success: 1 step (1 succeeded, 0 failed, 0 skipped)")"

on_tty tty.txt run ok
expect "run on a UTF-8 terminal: the glyphs" "yes,yes,yes" \
  "$(has tty.txt "▶ s1 (shell)"),$(has tty.txt "s1 │ a"),$(has tty.txt "✔$esc[0m s1")"
expect "run on a terminal: success in green" "yes" "$(has tty.txt "$esc[32msuccess$esc[0m: 1 step")"
expect "run on a terminal: the job's ESC still shown as ^[" "yes" "$(has tty.txt "a^[[31mb")"
expect "run on a terminal: no escape but jobsctl's colours" "0" "$(foreign_escapes tty.txt)"

LC_ALL=C on_tty c.txt run ok
expect "run on a terminal under LC_ALL=C: ASCII only" "0" "$(non_ascii c.txt)"
expect "run on a terminal under LC_ALL=C: ASCII marks" "yes" "$(has c.txt "> s1 (shell)")"
NO_COLOR=1 on_tty nocolor.txt run ok
expect "NO_COLOR: no colour on a terminal" "0" "$(escapes nocolor.txt)"
NO_COLOR= on_tty emptynocolor.txt run ok
expect "an empty NO_COLOR is not set" "yes" "$(has emptynocolor.txt "$esc[32msuccess")"
NO_COLOR=1 on_tty always.txt run ok --color=always
expect "NO_COLOR with --color=always: colour" "yes" "$(has always.txt "$esc[32msuccess")"
TERM=dumb on_tty dumb.txt run ok
expect "TERM=dumb: no colour" "0" "$(escapes dumb.txt)"
on_tty never.txt run ok --color never
expect "--color never on a terminal: no colour" "0" "$(escapes never.txt)"

"$jobsctl" run ok --color=always >always-pipe.txt
expect "--color=always into a pipe: colour" "yes" "$(has always-pipe.txt "$esc[32msuccess$esc[0m: 1 step")"
expect "--color=always: the job's ESC still shown as ^[" "yes" "$(has always-pipe.txt "s1 | a^[[31mb")"
expect "--color=always: no escape but jobsctl's colours" "0" "$(foreign_escapes always-pipe.txt)"
expect "--color=always into a pipe: ASCII marks still" "0" "$(non_ascii always-pipe.txt)"
"$jobsctl" run ok --color=sometimes >/dev/null 2>err.txt
expect "--color takes auto, always or never" "2 yes" "$? $(has err.txt "sometimes")"

on_tty validate.txt validate bad/bad.yaml
expect "validate on a terminal: error: in red" "yes" "$(has validate.txt "$esc[31merror$esc[0m: ")"
"$jobsctl" validate bad/bad.yaml >validate-pipe.txt
expect "validate into a pipe: no colour" "0" "$(escapes validate-pipe.txt)"
# Standard error is coloured when it is the terminal, whatever standard output is.
on_tty run-bad.txt run bad/bad.yaml
expect "run's errors on a terminal: error: in red" "yes" "$(has run-bad.txt "$esc[31merror$esc[0m: ")"
script -qec "$(printf '%q ' "$jobsctl" run bad/bad.yaml) 2>run-bad-err.txt" /dev/null </dev/null >/dev/null
expect "stderr into a file, stdout a terminal: no colour on stderr" "0 yes" \
  "$(escapes run-bad-err.txt) $(has run-bad-err.txt "error: ")"

# --- tables ---------------------------------------------------------------------------------
on_tty history.txt history
# Aligned as shown: STATUS and each coloured status start at the same column.
header_at=$(awk '{ print index($0, "STATUS"); exit }' history.txt)
row_at=$(sed -E "s/$esc\[[0-9]+m//g" history.txt | awk 'NR == 2 { print index($0, "success") }')
expect "history on a terminal: statuses in colour" "yes" "$(has history.txt "$esc[32msuccess$esc[0m")"
expect "history on a terminal: aligned as shown, escapes take no room" "$header_at" "$row_at"
"$jobsctl" history >history-pipe.txt
expect "history into a pipe: no header (as documented)" "ok" "$(head -1 history-pipe.txt | cut -f2)"
"$jobsctl" history --tsv >history-tsv.txt
expect "history --tsv: the header first" "EXECUTION	JOB	STATUS	STARTED	DURATION	ATTEMPT	TRIGGER" \
  "$(head -1 history-tsv.txt)"
expect "history --tsv: then the rows" "ok" "$(sed -n 2p history-tsv.txt | cut -f2)"
expect "list --tsv: the header" "ID	NAME	ENABLED	SCHEDULE	ZONE	NEXT	LAST" \
  "$("$jobsctl" list --tsv | head -1)"
expect "next --tsv: the header" "LOCAL	UTC	NOTE	IN" \
  "$("$jobsctl" next '0 3 * * *' --tz Asia/Tokyo --tsv | head -1)"
on_tty next-tsv.txt next '0 3 * * *' --tz Asia/Tokyo -n 1 --tsv
expect "next --tsv on a terminal: the header first, no schedule line" "LOCAL	UTC	NOTE	IN" \
  "$(head -1 next-tsv.txt)"
expect "stats --tsv: the header" "JOB	RUNS" "$("$jobsctl" stats --tsv | head -1 | cut -f1-2)"
"$jobsctl" list >list.txt
expect "list into a pipe: a job never run has ASCII in LAST" "-" "$(awk -F'\t' '$1 == "slow" { print $7 }' list.txt)"

# --- the pager ------------------------------------------------------------------------------
cat >pager.sh <<SH
#!/bin/sh
echo "called \$*" >>"$work/pager.log"
cat >"$work/paged.txt"
SH
chmod +x pager.sh
pager_calls() { [ -f pager.log ] && wc -l <pager.log || echo 0; }
PAGER=$work/pager.sh on_tty paged-tty.txt history
expect "history on a terminal: through \$PAGER" "1" "$(pager_calls)"
expect "history through the pager: the table, in colour" "yes,yes" \
  "$(has paged.txt "EXECUTION"),$(has paged.txt "$esc[32msuccess")"
PAGER=$work/pager.sh on_tty nopager.txt history --no-pager
expect "history --no-pager: no pager" "1 yes" "$(pager_calls) $(has nopager.txt EXECUTION)"
PAGER= on_tty emptypager.txt history
expect "an empty PAGER: no pager" "1 yes" "$(pager_calls) $(has emptypager.txt EXECUTION)"
PAGER=$work/pager.sh "$jobsctl" history >/dev/null
expect "history into a pipe: no pager" "1" "$(pager_calls)"
PAGER=$work/pager.sh on_tty paged-logs.txt logs ok
expect "logs on a terminal: through \$PAGER" "2 yes" "$(pager_calls) $(has paged.txt "a^[[31mb")"
# Unset PAGER: less -FRX, with the user's LESS left as it is.
mkdir bin
cat >bin/less <<SH
#!/bin/sh
echo "less \$* LESS=\$LESS" >>"$work/less.log"
cat >/dev/null
SH
chmod +x bin/less
(unset PAGER && LESS=keep PATH=$work/bin:$PATH on_tty less-tty.txt history)
expect "no PAGER: less -FRX, LESS untouched" "less -FRX LESS=keep" "$(cat less.log 2>/dev/null)"
# A PAGER of plain less gets LESS=FRX (as from git) to show colours; a LESS of the user's stays.
(PAGER="$work/bin/less" && export PAGER && unset LESS && on_tty less-plain.txt history)
expect "PAGER=less without LESS: LESS=FRX" "less  LESS=FRX" "$(tail -n 1 less.log)"
# No PAGER and no less (a minimal system): printed as it is, not an error.
mkdir empty
script -qec "env -u PAGER PATH=$work/empty $(printf '%q ' "$jobsctl") history; echo \$? >$work/noless.rc" \
  /dev/null </dev/null | tr -d '\r' >noless.txt
expect "no PAGER and no less: no pager, exit 0" "0 yes" "$(cat noless.rc) $(has noless.txt EXECUTION)"
# A pager that quits before the end (q in less): exit 0, nothing on standard error.
"$jobsctl" run big >/dev/null
PAGER='head -n 1' script -qec "$(printf '%q ' "$jobsctl" logs big) 2>$work/quit.err; echo \$? >$work/quit.rc" \
  /dev/null </dev/null >quit.txt
expect "a pager that quits early: exit 0, quietly" "0 0" "$(cat quit.rc) $(wc -c <quit.err)"
expect "a pager that quits early: it got the start" "1" "$(tr -d '\r' <quit.txt | grep -c "execution .* of job big")"

# --- through jobsd: wording of a cancelled execution, logs -f ---------------------------------
cat >jobsd.yaml <<YAML
socket: $work/jobsd.sock
default_timezone: UTC
grace_period: 2s
YAML
"$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$state"
expect "jobsd starts" "0" "$?"
wait_for 10 "$jobsctl" status
"$jobsctl" trigger ok --wait >wait.txt
expect "trigger --wait: 1 step" "yes" "$(has wait.txt "success: 1 step (1 succeeded, 0 failed, 0 skipped)")"
expect "status --tsv: the header" "QUEUE	DEPTH	RUNNING	LIMIT	NEXT FIRE" "$("$jobsctl" status --tsv | sed -n '/^QUEUE/p')"
id=$(awk '{ print $1; exit }' <("$jobsctl" history ok))
# logs -f follows until interrupted: the terminal is closed once the log is shown.
PAGER=$work/pager.sh script -qec "$(printf '%q ' "$jobsctl" logs -f "$id")" /dev/null </dev/null \
  >follow.txt 2>/dev/null &
terminal=$!
followed() { grep -qF "a^[[31mb" follow.txt; }
wait_for 20 followed
expect "logs -f on a terminal: the log, without a pager" "0 2" "$? $(pager_calls)"
kill "$terminal"

"$jobsctl" trigger slow --follow >cancel.txt 2>&1 &
follower=$!
started() { grep -q "^> s1 (shell)" cancel.txt; }
wait_for 20 started
expect "the slow job's step starts" "0" "$?"
slow_id=$(awk '/^execution / { print $2; exit }' cancel.txt)
"$jobsctl" cancel "$slow_id" >/dev/null
wait_for 20 exited "$follower"
wait "$follower"
expect "trigger --follow of a cancelled execution exits 130" "130" "$?"
expect "a cancelled step is marked cancelled, not failed" "/ s1 cancelled" \
  "$(grep -o '^. s1 cancelled' cancel.txt)"
expect "a cancelled execution: its step counted as cancelled, not failed" \
  "cancelled: 1 step (0 succeeded, 0 failed, 0 skipped, 1 cancelled)" \
  "$(grep -o '^cancelled: 1 step[^)]*)' cancel.txt)"
expect "history --color=always: cancelled is not red" "yes" \
  "$(has <("$jobsctl" history slow --color=always) "$esc[35mcancelled$esc[0m")"

finish
