#!/usr/bin/env bash
# jobsctl completion: the bash script driven as bash drives it (COMP_WORDS and COMP_CWORD set,
# then the function `complete -F` names, COMPREPLY read): verbs, options, option values, job ids
# from the jobs folder the command line or JOBS_DIR names, zones, and the executions of a real
# jobsd; jobsctl __complete prints no error and does not wait long for a daemon that does not
# answer. The zsh script loads under compinit and completes in an interactive zsh (zpty); the
# fish script answers `complete -C`. zsh and fish are skipped when they are not installed.
#
#   test_completion.sh JOBSCTL JOBSD
set -uo pipefail
jobsctl=$(realpath "$1")
jobsd=$(realpath "$2")
work=$(mktemp -d /tmp/jobs-completion-XXXXXX)
source "$(dirname "$0")/expect.sh"
source "$(dirname "$0")/daemon.sh"

cleanup() {
  # A test below stops jobsd with SIGSTOP: it must run again to stop.
  local pid
  pid=$(cat "$work/state/jobsd.lock" 2>/dev/null) && alive "$pid" &&
    has_open "$pid" "$work/state/jobsd.lock" && kill -CONT "$pid"
  stop_daemon "$work/state"
  rm -rf "$work"
}
trap cleanup EXIT

# The scripts complete the command named jobsctl: the one under test, first in PATH.
mkdir -p "$work/bin" "$work/jobs" "$work/other"
ln -s "$jobsctl" "$work/bin/jobsctl"
export PATH="$work/bin:$PATH"
export JOBS_DIR="$work/jobs" JOBS_STATE_DIR="$work/state"
unset JOBS_SOCKET JOBS_CONFIG
for id in nightly-report clock-tokyo; do
  cat > "$work/jobs/$id.yaml" <<'EOF'
name: A job
schedule: "30 2 * * *"
timezone: UTC
steps:
  - { id: say, type: shell, run: echo hello }
EOF
done
cp "$work/jobs/nightly-report.yaml" "$work/other/night-owl.yaml"
jobsctl completion bash > "$work/jobsctl.bash"

# complete_bash WORD...: what the bash script offers for the last word, sorted, one a line.
complete_bash() {
  bash --norc --noprofile -c '
    source "$0"
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    _jobsctl
    printf "%s\n" "${COMPREPLY[@]}" | sort' "$work/jobsctl.bash" "$@" 2>&1
}

expect "bash: jobsctl li -> list" "list" "$(complete_bash jobsctl li)"
expect "bash: jobsctl list --j -> --jobs-dir --json" $'--jobs-dir\n--json' \
  "$(complete_bash jobsctl list --j)"
expect "bash: jobsctl show nig -> nightly-report" "nightly-report" \
  "$(complete_bash jobsctl show nig)"
expect "bash: jobsctl enable nightly-report c -> clock-tokyo (more than one job)" "clock-tokyo" \
  "$(complete_bash jobsctl enable nightly-report c)"
expect "bash: jobsctl ed -> edit" "edit" "$(complete_bash jobsctl ed)"
expect "bash: jobsctl edit nig -> nightly-report" "nightly-report" \
  "$(complete_bash jobsctl edit nig)"
expect "bash: jobsctl edit --ne -> --new" "--new" "$(complete_bash jobsctl edit --ne)"
expect "bash: jobsctl show nightly-report '' -> nothing (one job)" "" \
  "$(complete_bash jobsctl show nightly-report '')"
expect "bash: jobsctl history '' -> the jobs" $'clock-tokyo\nnightly-report' \
  "$(complete_bash jobsctl history '')"
expect "bash: jobsctl st -> stats status" $'stats\nstatus' "$(complete_bash jobsctl st)"
expect "bash: jobsctl stats '' -> the jobs" $'clock-tokyo\nnightly-report' \
  "$(complete_bash jobsctl stats '')"
expect "bash: jobsctl stats --s -> --since --socket --state-dir" $'--since\n--socket\n--state-dir' \
  "$(complete_bash jobsctl stats --s)"
expect "bash: jobsctl check nightly-report c -> clock-tokyo (more than one job)" "clock-tokyo" \
  "$(complete_bash jobsctl check nightly-report c)"
expect "bash: jobsctl check --m -> --max-age" "--max-age" "$(complete_bash jobsctl check --m)"
expect "bash: --jobs-dir on the command line names the folder" "night-owl" \
  "$(complete_bash jobsctl show --jobs-dir "$work/other" nig)"
expect "bash: --jobs-dir=DIR, split at = as bash does" "night-owl" \
  "$(complete_bash jobsctl show --jobs-dir = "$work/other" nig)"
expect "bash: jobsctl next x --tz Europe/Ber -> Europe/Berlin" "Europe/Berlin" \
  "$(complete_bash jobsctl next x --tz Europe/Ber)"
expect "bash: jobsctl next x --tz=Europe/Ber, split at =" "Europe/Berlin" \
  "$(complete_bash jobsctl next x --tz = Europe/Ber)"
expect "bash: jobsctl migrate --timezone America/New_Y" "America/New_York" \
  "$(complete_bash jobsctl migrate --timezone America/New_Y)"
expect "bash: jobsctl new --timezone Asia/Tok" "Asia/Tokyo" \
  "$(complete_bash jobsctl new --timezone Asia/Tok)"
expect "bash: jobsctl migrate --en -> --enable" "--enable" "$(complete_bash jobsctl migrate --en)"
expect "bash: validate --format, from its check" $'github\njson\ntext' \
  "$(complete_bash jobsctl validate --format '')"
expect "bash: next --dst-gap s" $'shift\nskip' "$(complete_bash jobsctl next x --dst-gap s)"
expect "bash: history --status canc" "cancelled" "$(complete_bash jobsctl history --status canc)"
expect "bash: new --template sq" "sql" "$(complete_bash jobsctl new x --template sq)"
expect "bash: help's operand is a verb" "history" "$(complete_bash jobsctl help hi)"
expect "bash: jobsctl trigger x -f: -f is trigger's too" "-f" \
  "$(complete_bash jobsctl trigger x -f)"
expect "bash: jobsctl history --l -> --limit (-n)" "--limit" "$(complete_bash jobsctl history --l)"
expect "bash: next x --timezone Europe/Ber, the other name of --tz" "Europe/Berlin" \
  "$(complete_bash jobsctl next x --timezone Europe/Ber)"
expect "bash: schema's operand is a step type" "webhook" "$(complete_bash jobsctl schema webh)"
expect "bash: completion's operand, from its check" $'bash\nfish\nzsh' \
  "$(complete_bash jobsctl completion '')"
expect "bash: --jobs-dir completes folders" "$work/jobs/" \
  "$(complete_bash jobsctl list --jobs-dir "$work/jo" | sed 's|$|/|')"
expect "bash: --config completes files" "$work/jobs/nightly-report.yaml" \
  "$(complete_bash jobsctl validate --config "$work/jobs/nig")"
expect "bash: validate's operand is a path" "$work/jobs/clock-tokyo.yaml" \
  "$(complete_bash jobsctl validate "$work/jobs/cl")"
expect "bash: jobsctl connections '' -> its verbs" $'list\ntest' \
  "$(complete_bash jobsctl connections '')"
expect "bash: jobsctl connections test --t -> --timeout" "--timeout" \
  "$(complete_bash jobsctl connections test --t)"
expect "bash: every verb has --color, with its values" $'always\nauto\nnever' \
  "$(complete_bash jobsctl trigger x --color '')"
expect "bash: history --t -> --tsv" "--tsv" "$(complete_bash jobsctl history --t)"
expect "bash: logs --no -> --no-pager" "--no-pager" "$(complete_bash jobsctl logs x --no)"
expect "bash: a value that has no set offers nothing" "" \
  "$(complete_bash jobsctl logs x --grep '')"
expect "bash: jobsctl -- -> the root's options" $'--help\n--version' \
  "$(complete_bash jobsctl --)"

# Every verb --help lists, and nothing else (the hidden __complete is not offered).
verbs=$(jobsctl --help | awk '/^Subcommands:/ {on = 1; next} on && !NF {exit} on {print $1}' | sort)
expect "bash: the verbs are --help's" "$verbs" "$(complete_bash jobsctl '')"
expect "--help does not list __complete" "" "$(jobsctl --help | grep -e __complete)"
# Every option of every verb, as --help lists them.
missing=""
for verb in $verbs; do
  for option in $(jobsctl "$verb" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    complete_bash jobsctl "$verb" -- | grep -x -- "$option" >/dev/null || missing+=" $verb $option"
  done
done
expect "bash: every option of every verb is offered" "" "$missing"

# __complete: one value a line, no error, whatever it is given.
expect "__complete jobs" $'clock-tokyo\nnightly-report' "$(jobsctl __complete jobs 2>&1)"
expect "__complete jobs --jobs-dir" "night-owl" \
  "$(jobsctl __complete jobs --jobs-dir "$work/other" 2>&1)"
expect "__complete jobs on a folder that does not exist: nothing" "" \
  "$(jobsctl __complete jobs --jobs-dir "$work/none" 2>&1)"
expect "__complete zones has Europe/Berlin" "Europe/Berlin" \
  "$(jobsctl __complete zones 2>&1 | grep -x Europe/Berlin)"
expect "__complete executions without a daemon: nothing" "" \
  "$(jobsctl __complete executions 2>&1)"
expect "bash: cancel without a daemon: nothing" "" "$(complete_bash jobsctl cancel '')"

# Executions come from a running jobsd, the newest first, with their job and status.
printf 'socket: %s\ndefault_timezone: UTC\n' "$work/state/jobsd.sock" > "$work/jobsd.yaml"
execution=""
if "$jobsd" --config "$work/jobsd.yaml" --jobs-dir "$work/jobs" --state-dir "$work/state"; then
  jobsctl trigger nightly-report --wait > "$work/trigger.out" 2>&1
  execution=$(grep -oE 'execution [0-9A-Z]{26}' "$work/trigger.out" | head -n 1 | cut -d' ' -f2)
  expect "__complete executions lists the execution with its job and status" \
    "$execution"$'\t'"nightly-report success" "$(jobsctl __complete executions 2>&1)"
  expect "bash: cancel '' -> the execution" "$execution" "$(complete_bash jobsctl cancel '')"
  expect "bash: logs ${execution:0:4} -> the execution" "$execution" \
    "$(complete_bash jobsctl logs "${execution:0:4}")"
  expect "bash: logs nig -> the job" "nightly-report" "$(complete_bash jobsctl logs nig)"
  # A daemon that does not answer (stopped) costs the shell about a second, not more.
  pid=$(cat "$work/state/jobsd.lock")
  kill -STOP "$pid"
  start=$(date +%s%N)
  out=$(jobsctl __complete executions 2>&1)
  ms=$((($(date +%s%N) - start) / 1000000))
  kill -CONT "$pid"
  expect "__complete executions, daemon stopped: nothing" "" "$out"
  expect "__complete executions, daemon stopped: within 2 s" "yes" "$([ "$ms" -lt 2000 ] && echo yes || echo "no: $ms ms")"
else
  expect "jobsd starts" "0" "$?"
fi

# zsh: the script parses, loads under compinit, and completes in an interactive zsh.
if command -v zsh > /dev/null; then
  jobsctl completion zsh > "$work/_jobsctl"
  expect "zsh -n parses the script" "" "$(zsh -n "$work/_jobsctl" 2>&1)"
  # complete_zsh LINE: the matches zsh's completion adds for LINE (compadd's, as it filters them).
  cat > "$work/complete.zsh" <<'EOF'
zmodload zsh/zpty
out=$1 line=$2 fpath_dir=$3
zpty z zsh -f -i
zpty -w z "PROMPT='' RPROMPT=''; unsetopt auto_list beep; fpath=($fpath_dir \$fpath)"
zpty -w z "autoload -U compinit && compinit -u -d $out.dump"
zpty -w z 'compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a __m; builtin compadd -O __m "$@"; (( $#__m )) && print -rl -- $__m >> '$out'
  builtin compadd "$@"
}'
# Tab completes, then says so: typed ahead, the marker's command would keep zsh from completing.
zpty -w z "__tab() { zle complete-word; print > $out.done }; zle -N __tab; bindkey '^I' __tab"
zpty -w -n z "$line"$'\t'
for i in {1..200}; do
  [[ -e $out.done ]] && break
  sleep 0.05
done
zpty -d z
EOF
  complete_zsh() {
    rm -f "$work/zsh.out" "$work/zsh.out.done"
    zsh -f "$work/complete.zsh" "$work/zsh.out" "$1" "$work" > /dev/null 2>&1
    [ -e "$work/zsh.out.done" ] || echo "(zsh did not finish)"
    [ -e "$work/zsh.out" ] && sort -u "$work/zsh.out"
  }
  expect "zsh: jobsctl li -> list" "list" "$(complete_zsh 'jobsctl li')"
  expect "zsh: jobsctl list --j -> --jobs-dir --json" $'--jobs-dir\n--json' \
    "$(complete_zsh 'jobsctl list --j')"
  expect "zsh: jobsctl show nig -> nightly-report" "nightly-report" \
    "$(complete_zsh 'jobsctl show nig')"
  expect "zsh: --jobs-dir on the command line names the folder" "night-owl" \
    "$(complete_zsh "jobsctl show --jobs-dir $work/other nig")"
  expect "zsh: validate --format g -> github" "github" \
    "$(complete_zsh 'jobsctl validate --format g')"
  expect "zsh: jobsctl connections test --t -> --timeout" "--timeout" \
    "$(complete_zsh 'jobsctl connections test --t')"
  expect "zsh: history --status ca -> cancelled" "cancelled" \
    "$(complete_zsh 'jobsctl history --status ca')"
  expect "zsh: jobsctl next x --tz Europe/Ber -> Europe/Berlin" "Europe/Berlin" \
    "$(complete_zsh 'jobsctl next x --tz Europe/Ber')"
  if [ -n "$execution" ]; then
    expect "zsh: jobsctl cancel '' -> the execution" "$execution" "$(complete_zsh 'jobsctl cancel ')"
  fi
else
  echo "skip zsh: not installed"
fi

# fish: the script loads and `complete -C` answers.
if command -v fish > /dev/null; then
  jobsctl completion fish > "$work/jobsctl.fish"
  complete_fish() {
    fish --no-config -c "source $work/jobsctl.fish; complete -C'$1'" 2>&1 | cut -f1 | sort
  }
  expect "fish: jobsctl li -> list" "list" "$(complete_fish 'jobsctl li')"
  expect "fish: jobsctl list --j -> --jobs-dir --json" $'--jobs-dir\n--json' \
    "$(complete_fish 'jobsctl list --j')"
  expect "fish: jobsctl show nig -> nightly-report" "nightly-report" \
    "$(complete_fish 'jobsctl show nig')"
  expect "fish: --jobs-dir on the command line names the folder" "night-owl" \
    "$(complete_fish "jobsctl show --jobs-dir $work/other nig")"
  expect "fish: jobsctl next x --tz Europe/Ber -> Europe/Berlin" "Europe/Berlin" \
    "$(complete_fish 'jobsctl next x --tz Europe/Ber')"
  expect "fish: connections list --s: not list's --state-dir" "" \
    "$(complete_fish 'jobsctl connections list --s')"
  expect "fish: verbs have their descriptions" \
    $'list\tList the jobs of the folder with their next fire' \
    "$(fish --no-config -c "source $work/jobsctl.fish; complete -C'jobsctl li'" 2>&1)"
  if [ -n "$execution" ]; then
    expect "fish: jobsctl cancel '' -> the execution, with its job and status" \
      "$execution"$'\t'"nightly-report success" \
      "$(fish --no-config -c "source $work/jobsctl.fish; complete -C'jobsctl cancel '" 2>&1)"
  fi
else
  echo "skip fish: not installed"
fi

finish
