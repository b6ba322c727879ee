#!/usr/bin/env bash
# The OCR service against the tesseract CLI in one bounded run on loopback.
#   accuracy: CER/WER on a generated set (bench/ocr/make_set.py: 5 fonts × 3 sizes × clean, noise,
#             blur, rotation, low contrast = 75 images with ground truth), the service with its
#             preprocessing (deskew, denoise) against `tesseract IMAGE OUTBASE` with defaults;
#   speed:    pages/s over the set with 2 concurrent clients (each one keep-alive connection),
#             the warm service against one CLI process per image (2 at a time, started by xargs
#             with nothing in between), alternating over OCR_BENCH_ROUNDS rounds (3; the median
#             round is reported). Goals: CER <= the CLI's; >= 2x its throughput.
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
# Two clients with a keep-alive connection each (as an integration that sends pages one after
# another), pulling images from one queue; answers are saved for scoring after the timing.
cat >"$work/clients.py" <<'PY'
import http.client, pathlib, queue, sys, threading, time
port, options, out, images = int(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3]), sys.argv[4:]
jobs = queue.Queue()
for image in images:
    jobs.put(image)
failures = []
def client():
    connection = http.client.HTTPConnection("127.0.0.1", port)
    while True:
        try:
            image = jobs.get_nowait()
        except queue.Empty:
            return
        body = pathlib.Path(image).read_bytes()
        connection.request("POST", f"/api/v1/ocr/recognize?{options}", body, {"content-type": "image/png"})
        answer = connection.getresponse()
        data = answer.read()
        if answer.status != 200:
            failures.append(f"{image}: {answer.status} {data[:200]!r}")
        (out / (pathlib.Path(image).stem + ".json")).write_bytes(data)
start = time.perf_counter()
threads = [threading.Thread(target=client) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - start
if failures:
    sys.exit("\n".join(failures))
print(f"{len(images) / elapsed:.2f}")
PY
# One tesseract process per image, two at a time, each writing IMAGE.txt beside its image.
cli_all() {
  local start end
  start=$(date +%s%N)
  printf '%s\n' "${images[@]}" | OMP_THREAD_LIMIT=1 xargs -P 2 -I{} tesseract {} {} 2>/dev/null
  end=$(date +%s%N)
  echo "scale=2; ${#images[@]} * 1000000000 / ($end - $start)" | bc -l
}

echo "machine: $(nproc) cores; $(tesseract --version 2>&1 | head -1); ${#images[@]} images; service options: $options"
# The service and the CLI alternate, round after round (a neighbour on a shared machine moves
# either by several percent between passes); the report gives the median round.
rounds="${OCR_BENCH_ROUNDS:-3}"
printf '%-8s %16s %16s %8s\n' "round" "service pages/s" "CLI pages/s" "ratio"
results=()
for round in $(seq 1 "$rounds"); do
  service_rate=$("$work/venv/bin/python" "$work/clients.py" "$port" "$options" "$work/service" "${images[@]}")
  cli_rate=$(cli_all)
  ratio=$(echo "scale=3; $service_rate / $cli_rate" | bc -l)
  results+=("$ratio $service_rate $cli_rate")
  printf '%-8s %16s %16s %7.2fx\n' "$round" "$service_rate" "$cli_rate" "$ratio"
done
for image in "${images[@]}"; do mv "$image.txt" "$work/cli/$(basename "$image" .png).txt"; done
read -r ratio service_rate cli_rate <<<"$(printf '%s\n' "${results[@]}" | sort -g -k1,1 | sed -n "$(((rounds + 1) / 2))p")"
printf '%-28s %10s\n' "pages/s (2 clients), median round" ""
printf '%-28s %10s\n' "service (warm pool of 2)" "$service_rate" "tesseract CLI (process/img)" "$cli_rate"
printf 'throughput ratio, median of %d rounds: %.2fx (goal >= 2x)\n' "$rounds" "$ratio"
# The JSON answers become text files after the timing, so parsing costs the service nothing.
python3 - "$work/service" <<'PY'
import json, pathlib, sys
for answer in pathlib.Path(sys.argv[1]).glob("*.json"):
    answer.with_suffix(".txt").write_text(json.loads(answer.read_text())["text"] + "\n")
PY
python3 bench/ocr/score.py "$work/set" "$work/service" "$work/cli"
