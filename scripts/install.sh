#!/usr/bin/env bash
# Installs everything accelsim needs on a fresh Debian machine: system packages (speech synthesis, the text
# corpora the ASR side builds its data from, chromium for the report's browser test) and the Python package.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if command -v apt-get >/dev/null; then
  missing=""
  # festival + festvox-kdlpc16k (voice ked) speak the held-out test set; flite, festvox-kallpc16k (kal) and
  # festvox-us-slt-hts (slt) only the reserved independent-evaluation set (never trained on).
  for p in espeak-ng sox fortunes bible-kjv-text bible-kjv chromium festival festvox-kdlpc16k flite festvox-kallpc16k festvox-us-slt-hts; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
fi
PY=${PYTHON:-python3}
# torch first, pinned to the CPU build that lies on disk here (an open range would fetch a CUDA build).
$PY -m pip install -q "torch==2.13.0"
$PY -m pip install -q -e ".[dev]"
# byte-compile the project's modules, as a non-editable pip install does (an editable one leaves it to the first
# import, which cannot write them where PYTHONDONTWRITEBYTECODE is set: then every run compiles ~0.1 CPU s of source)
$PY -m compileall -q accelsim asr
# accelsim's numba kernels compiled ahead of time (accelsim/aot.py, ~20 s): a short run then imports no numba.
# Without a C compiler this fails with a message and accelsim runs them on numba's JIT (same results).
$PY -m accelsim.aot build || echo "scripts/install.sh: continuing without the AOT kernels" >&2
