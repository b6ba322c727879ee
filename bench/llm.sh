#!/usr/bin/env bash
# The llm service's models against the reference runtimes, in one run on this machine:
#   embeddings: sentences/s at batch 1 and 32 (256 twelve-word sentences), flowforge-embeddings
#               (its native encoder) against sentence-transformers on PyTorch CPU, same
#               all-MiniLM-L6-v2 files;
#   generation: decode tokens/s of greedy generation after the same chat prompt, flowforge-llm's
#               model (candle, Q4_1 re-quantized to Q8_0) against llama.cpp (llama-cpp-python) on
#               the same GGUF.
# Both sides use 2 threads. Goals: embeddings >= 2x PyTorch; generation >= 0.8x llama.cpp.
# torch, sentence-transformers and llama-cpp-python (built from source) go into a throwaway venv
# (LLM_BENCH_VENV reuses one); nothing is fetched from a model hub.
# Usage: bench/llm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-models.sh >/dev/null
models="${FLOWFORGE_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flowforge/models}"
work="$(mktemp -d /tmp/flowforge-bench-llm.XXXXXX)"
trap 'rm -rf "$work"' EXIT
venv="${LLM_BENCH_VENV:-$work/venv}"
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  # PyPI's torch wheel imports only with its nvidia runtime packages, so they come along.
  "$venv/bin/pip" install -q torch sentence-transformers
  # llama.cpp from source: PyPI's llama-cpp-python wheel, and a GGML_NATIVE build, die with
  # "Illegal instruction" on VMs that report AVX-512/AMX; AVX2 + FMA run everywhere here.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
    "$venv/bin/pip" install -q --no-binary=llama-cpp-python llama-cpp-python
fi

cargo build --release --locked -p flowforge-embeddings --example embedding_throughput
cargo build --release --locked -p flowforge-llm --example generate
target="${CARGO_TARGET_DIR:-target}/release/examples"

ours_embed="$("$target/embedding_throughput")"
ours_generate="$("$target/generate" "Write a haiku about the sea." | grep "best of 3")"
reference="$(BENCH_THREADS=2 "$venv/bin/python" bench/llm/reference.py "$models")"

rate() { grep -oE "$1[^0-9]*[0-9.]+" <<<"$2" | grep -oE '[0-9.]+$' | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
e1=$(rate "batch  1:" "$ours_embed"); e32=$(rate "batch 32:" "$ours_embed")
r1=$(rate "embeddings batch 1:" "$reference"); r32=$(rate "embeddings batch 32:" "$reference")
g=$(rate "= " "$ours_generate"); rg=$(rate "generation:" "$reference")
echo "| case | reference | flowforge | ratio | goal |"
echo "|---|---|---|---|---|"
echo "| embeddings, batch 1 (sentences/s) | $r1 | $e1 | $(ratio "$e1" "$r1")x | >= 2x |"
echo "| embeddings, batch 32 (sentences/s) | $r32 | $e32 | $(ratio "$e32" "$r32")x | >= 2x |"
echo "| generation, decode (tokens/s) | $rg | $g | $(ratio "$g" "$rg")x | >= 0.8x |"
c1=$(rate "candle batch  1:" "$ours_embed"); c32=$(rate "candle batch 32:" "$ours_embed")
echo "(candle's BertModel on the same machine: batch 1 $c1, batch 32 $c32 sentences/s)"
