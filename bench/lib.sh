# Shared by the benchmark scripts: `source bench/lib.sh` after setting `work` (a scratch dir).

# best_ms COMMAND…: the fastest of 5 runs in milliseconds, or FAILED (stderr in $work/last-error).
best_ms() {
  local best="" start end took
  for _ in 1 2 3 4 5; do
    start=$(date +%s%N)
    "$@" >/dev/null 2>"$work/last-error" || { echo FAILED; return; }
    end=$(date +%s%N)
    took=$(((end - start) / 1000000))
    if [[ -z $best || $took -lt $best ]]; then best=$took; fi
  done
  echo "$best"
}
