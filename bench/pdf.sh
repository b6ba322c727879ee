#!/usr/bin/env bash
# The PDF service against poppler and qpdf in one bounded run on loopback:
#   text: a generated 100-page document, `pdftotext` (poppler-utils) vs POST /api/v1/pdf/text;
#   merge: 50 generated 2-page documents, `qpdf --empty --pages …` vs POST /api/v1/pdf/merge.
# Prints ms per run (best of 5), the ratio (service / tool; goal <= 1.0), and the text
# similarity of the service's output to pdftotext's (word-level difflib ratio; goal >= 0.98).
# Usage: bench/pdf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
port=39232
work="$(mktemp -d /tmp/flowforge-bench-pdf.XXXXXX)"

if ! command -v pdftotext >/dev/null || ! command -v qpdf >/dev/null; then
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq poppler-utils qpdf >/dev/null
fi
cargo build --release --locked -p flowforge-pdf --bin flowforge-pdf
target="${CARGO_TARGET_DIR:-target}/release"

FLOWFORGE_PDF_ADDR="127.0.0.1:$port" FLOWFORGE_PDF_MAX_BODY_BYTES=$((64 * 1024 * 1024)) FLOWFORGE_LOG=error \
  "$target/flowforge-pdf" >"$work/service.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break; sleep 0.1; done

# The documents: Markdown made of deterministic pseudo-random words, typeset by the service.
python3 - "$work" <<'PY'
import json, random, sys
work = sys.argv[1]
random.seed(7)
vocabulary = [w.strip(".,") for w in """Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod
tempor incididunt ut labore et dolore magna aliqua Ut enim ad minim veniam quis nostrud exercitation ullamco
laboris nisi aliquip ex ea commodo consequat Duis aute irure in reprehenderit voluptate velit esse cillum
fugiat nulla pariatur Excepteur sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit
anim id est laborum 2024 3.14 42 invoice total amount""".split()]
def paragraph(words):
    return " ".join(random.choice(vocabulary) for _ in range(words)) + "."
def document(pages, paragraphs_per_page):
    parts = []
    for page in range(pages):
        if page:
            parts.append("<!-- pagebreak -->")
        parts.append(f"## Section {page + 1}")
        parts += [paragraph(random.randint(40, 70)) for _ in range(paragraphs_per_page)]
    return {"markdown": "\n\n".join(parts), "footer": {"text": "Page {page} of {pages}", "align": "center"}}
json.dump(document(100, 5), open(f"{work}/book.json", "w"))
json.dump(document(2, 3), open(f"{work}/small.json", "w"))
PY
curl -fsS -H 'content-type: application/json' --data-binary @"$work/book.json" "http://127.0.0.1:$port/api/v1/pdf/generate" -o "$work/book.pdf"
for i in $(seq 1 50); do
  curl -fsS -H 'content-type: application/json' --data-binary @"$work/small.json" "http://127.0.0.1:$port/api/v1/pdf/generate" -o "$work/part-$i.pdf"
done
pages=$(pdfinfo "$work/book.pdf" | awk '/^Pages:/ {print $2}')

source bench/lib.sh
poppler_text() { pdftotext -enc UTF-8 "$work/book.pdf" "$work/poppler.txt"; }
service_text() { curl -fsS --data-binary @"$work/book.pdf" -H 'content-type: application/pdf' "http://127.0.0.1:$port/api/v1/pdf/text" -o "$work/service.json"; }
merge_args=(); for i in $(seq 1 50); do merge_args+=("$work/part-$i.pdf"); done
curl_files=(); for i in $(seq 1 50); do curl_files+=(-F "file=@$work/part-$i.pdf;type=application/pdf"); done
qpdf_merge() { qpdf --empty --pages "${merge_args[@]}" -- "$work/qpdf-merged.pdf"; }
service_merge() { curl -fsS "${curl_files[@]}" "http://127.0.0.1:$port/api/v1/pdf/merge" -o "$work/service-merged.pdf"; }

echo "machine: $(nproc) cores; $(pdftotext -v 2>&1 | head -1); $(qpdf --version | head -1)"
echo "text: ${pages}-page document, $(($(stat -c %s "$work/book.pdf") / 1024)) KiB; merge: 50 files of 2 pages"
printf '%-8s %10s %12s %8s\n' task "tool ms" "service ms" ratio
for task in text merge; do
  if [[ $task == text ]]; then reference=$(best_ms poppler_text); ours=$(best_ms service_text)
  else reference=$(best_ms qpdf_merge); ours=$(best_ms service_merge); fi
  if [[ $reference == FAILED || $ours == FAILED ]]; then
    printf '%-8s %10s %12s\n' "$task" "$reference" "$ours"; head -c 300 "$work/last-error"; echo; continue
  fi
  printf '%-8s %10s %12s %7.2fx\n' "$task" "$reference" "$ours" "$(echo "$ours / $reference" | bc -l)"
done
merged_pages=$(pdfinfo "$work/service-merged.pdf" | awk '/^Pages:/ {print $2}')
echo "merged pages: service $merged_pages, qpdf $(pdfinfo "$work/qpdf-merged.pdf" | awk '/^Pages:/ {print $2}')"
python3 - "$work" <<'PY'
import difflib, json, sys
work = sys.argv[1]
ours = json.load(open(f"{work}/service.json"))["text"].split()
theirs = open(f"{work}/poppler.txt", encoding="utf-8").read().split()
ratio = difflib.SequenceMatcher(None, ours, theirs, autojunk=False).ratio()
print(f"text similarity to pdftotext: {ratio:.4f} ({len(ours)} vs {len(theirs)} words)")
PY
echo "service peak memory: $(($(awk '/VmHWM/ {print $2}' "/proc/$pid/status") / 1024)) MiB"
