#!/usr/bin/env bash
# The image service against libvips in one bounded run on loopback: a generated 2 MP and 24 MP
# JPEG, each made 500 px wide as JPEG, by the service (raw body) and by `vipsthumbnail`
# (libvips-tools, Debian). Prints ms per image (best of 5), images/s with 2 concurrent clients
# (20 requests), the service's peak memory, and the ratio (service time / vips time; goal <= 1.5).
# Usage: bench/image.sh
set -euo pipefail
cd "$(dirname "$0")/.."
port=39231
work="$(mktemp -d /tmp/flowforge-bench-image.XXXXXX)"

if ! command -v vipsthumbnail >/dev/null; then
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq libvips-tools >/dev/null
fi
cargo build --release --locked -p flowforge-image --bin flowforge-image
target="${CARGO_TARGET_DIR:-target}/release"

# Photographic-ish content (a gradient with grain) so JPEG sizes are realistic: written as PPM,
# encoded to JPEG (quality 90) by vips itself.
python3 - "$work" <<'PY'
import os, sys
work = sys.argv[1]
for name, width, height in (("2mp", 1732, 1155), ("24mp", 6000, 4000)):
    with open(f"{work}/{name}.ppm", "wb") as out:
        out.write(f"P6 {width} {height} 255\n".encode())
        for y in range(height):
            base = y * 200 // height
            table = bytes((base + (v & 31)) & 255 for v in range(256))
            out.write(os.urandom(width * 3).translate(table))
PY
for name in 2mp 24mp; do vips copy "$work/$name.ppm" "$work/$name.jpg[Q=90]"; done

FLOWFORGE_IMAGE_ADDR="127.0.0.1:$port" FLOWFORGE_IMAGE_MAX_BODY_BYTES=$((64 * 1024 * 1024)) FLOWFORGE_LOG=error \
  "$target/flowforge-image" >"$work/service.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break; sleep 0.1; done

source bench/lib.sh
service() { curl -fsS --data-binary @"$1" -H 'content-type: image/jpeg' "http://127.0.0.1:$port/api/v1/image/resize?width=500" -o "$work/out.jpg"; }
vips_thumb() { vipsthumbnail "$1" --size 500x -o "$work/vips-out.jpg[Q=80]"; }
throughput() {
  local start end
  start=$(date +%s%N)
  for _ in 1 2; do (for _ in $(seq 1 10); do "$@" || exit 1; done) & done
  wait
  end=$(date +%s%N)
  echo "scale=1; 20 * 1000000000 / ($end - $start)" | bc -l
}

echo "machine: $(nproc) cores; $(vips --version)"
printf '%-8s %10s %10s %8s %14s %14s\n' image "vips ms" "service ms" ratio "vips img/s" "service img/s"
for name in 2mp 24mp; do
  file="$work/$name.jpg"
  reference=$(best_ms vips_thumb "$file")
  ours=$(best_ms service "$file")
  if [[ $reference == FAILED || $ours == FAILED ]]; then
    printf '%-8s %10s %10s\n' "$name" "$reference" "$ours"; head -c 300 "$work/last-error"; echo; continue
  fi
  printf '%-8s %10s %10s %7.2fx %14s %14s\n' "$name" "$reference" "$ours" "$(echo "$ours / $reference" | bc -l)" \
    "$(throughput vips_thumb "$file")" "$(throughput service "$file")"
  # VmHWM only grows: read after each size, it is that size's peak (with 2 clients at once).
  echo "  service peak memory after $name: $(($(awk '/VmHWM/ {print $2}' "/proc/$pid/status") / 1024)) MiB"
done
