#!/usr/bin/env bash
# The OCR service against the tesseract CLI in one bounded run on loopback.
#   accuracy: CER/WER on a generated set (bench/ocr/make_set.py: 5 fonts × 3 sizes × clean, noise,
#             blur, rotation, low contrast = 75 images with ground truth), the service with its
#             preprocessing (deskew, denoise) against `tesseract IMAGE -` with defaults;
#   speed:    pages/s over the set with 2 concurrent clients, the warm service against one CLI
#             process per image (2 at a time). Goals: CER <= the CLI's; >= 2x its throughput.
# Pillow comes from PyPI into a throwaway venv; fonts-liberation from Debian when missing.
# Usage: bench/ocr.sh
set -euo pipefail
cd "$(dirname "$0")/.."
port=39233
work="$(mktemp -d /tmp/flowforge-bench-ocr.XXXXXX)"
options="${OCR_BENCH_OPTIONS:-deskew=true&denoise=true}"

sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
if [[ ! -f /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ]] || ! command -v tesseract >/dev/null; then
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq fonts-liberation fonts-dejavu-core tesseract-ocr tesseract-ocr-eng >/dev/null
fi
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q pillow
cargo build --release --locked -p flowforge-ocr --bin flowforge-ocr
target="${CARGO_TARGET_DIR:-target}/release"

"$work/venv/bin/python" bench/ocr/make_set.py "$work/set"
mkdir -p "$work/service" "$work/cli"

# One OpenMP thread per engine (as for each CLI process): engines already run in parallel.
OMP_THREAD_LIMIT=1 FLOWFORGE_OCR_ADDR="127.0.0.1:$port" FLOWFORGE_OCR_ENGINES=2 FLOWFORGE_LOG=error \
  "$target/flowforge-ocr" >"$work/service.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break; sleep 0.1; done

images=("$work"/set/*.png)
service_one() {
  local name; name=$(basename "$1" .png)
  curl -fsS --data-binary @"$1" -H 'content-type: image/png' "http://127.0.0.1:$port/api/v1/ocr/recognize?$options" \
    -o "$work/service/$name.json"
}
cli_one() {
  local name; name=$(basename "$1" .png)
  OMP_THREAD_LIMIT=1 tesseract "$1" - 2>/dev/null >"$work/cli/$name.txt"
}
export -f service_one cli_one
export work port options

run_all() {
  local start end
  start=$(date +%s%N)
  printf '%s\n' "${images[@]}" | xargs -P 2 -I{} bash -c "$1 {}"
  end=$(date +%s%N)
  echo "scale=2; ${#images[@]} * 1000000000 / ($end - $start)" | bc -l
}

echo "machine: $(nproc) cores; $(tesseract --version 2>&1 | head -1); ${#images[@]} images; service options: $options"
service_rate=$(run_all service_one)
cli_rate=$(run_all cli_one)
printf '%-28s %10s\n' "pages/s (2 clients)" ""
printf '%-28s %10s\n' "service (warm pool of 2)" "$service_rate" "tesseract CLI (process/img)" "$cli_rate"
echo "throughput ratio: $(echo "scale=2; $service_rate / $cli_rate" | bc -l)x"
# The JSON answers become text files after the timing, so parsing costs the service nothing.
python3 - "$work/service" <<'PY'
import json, pathlib, sys
for answer in pathlib.Path(sys.argv[1]).glob("*.json"):
    answer.with_suffix(".txt").write_text(json.loads(answer.read_text())["text"] + "\n")
PY
python3 bench/ocr/score.py "$work/set" "$work/service" "$work/cli"
