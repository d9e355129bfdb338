# Sourced by bench/run-jobs and bench/run-stats:
#   measure BENCH LABEL COMMAND...   runs COMMAND 5 times (its output discarded) and prints the
#                                    median wall time, the runs and the peak RSS against the
#                                    target of 1 s; appends its rows to JOBS_BENCH_TSV when set.
# Needs $timing, a file it may overwrite.
measure() {
  local bench=$1 label=$2
  shift 2
  local times=() rss=0
  for _ in 1 2 3 4 5; do
    local out
    /usr/bin/time -o "$timing" -f '%e %M' "$@" >/dev/null 2>&1
    out=$(tail -1 "$timing")
    times+=("${out% *}")
    rss=$(( ${out#* } > rss ? ${out#* } : rss ))
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  local verdict=pass
  awk -v m="$median" 'BEGIN { exit !(m > 1.0) }' && verdict=short
  printf '%-34s median %5.2f s  (runs: %s)  peak RSS %d MiB  target 1 s  %s\n' \
    "$label" "$median" "${times[*]}" $((rss / 1024)) "$verdict"
  # bench/run-all collects every benchmark's rows from the file JOBS_BENCH_TSV names.
  if [[ -n ${JOBS_BENCH_TSV:-} ]]; then
    printf '%s\t%s\t<= 1 s\t%.2f s\t%s-%s s\t-\t%s\n' "$bench" "$label" "$median" \
      "$(printf '%s\n' "${times[@]}" | sort -n | head -1)" \
      "$(printf '%s\n' "${times[@]}" | sort -n | tail -1)" "$verdict" >>"$JOBS_BENCH_TSV"
    printf '%s\t%s: peak RSS\t-\t%d MiB\t\t-\t-\n' "$bench" "$label" $((rss / 1024)) \
      >>"$JOBS_BENCH_TSV"
  fi
}
