#!/usr/bin/env bash
# Regenerate the shipped workloads from real decodes of the small model (docs/search.md, "Traces"):
#   workloads/rnnt_beam{1,4,8,16,32}       paper-scale re-emission, DR fusion (tuned weights)
#   workloads/rnnt_nolm_beam{1,4,8,16,32}  paper-scale re-emission, no LM
#   workloads/small_beam{1,16}, small_nolm_beam16   the small model's own shapes
# Usage: [OUT=dir] [WEIGHTS=fusion.json] scripts/make_workloads.sh [CKPT] [UTTERANCES]
#        (defaults: workloads, models/lm_target/fusion_dr.json, models/small, 10)
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${1:-models/small}
N=${2:-10}
WEIGHTS=${WEIGHTS:-models/lm_target/fusion_dr.json}
OUT=${OUT:-workloads}
COMMON=(--ckpt "$CKPT" --manifest data/corpus/target_test.jsonl --limit "$N" --pclass-recipe recipes/int4.yaml)
for b in 1 4 8 16 32; do
  asr trace "${COMMON[@]}" --beam "$b" --fusion dr --weights "$WEIGHTS" --scale paper --out "$OUT/rnnt_beam$b"
  asr trace "${COMMON[@]}" --beam "$b" --fusion none --scale paper --out "$OUT/rnnt_nolm_beam$b"
done
for b in 1 16; do
  asr trace "${COMMON[@]}" --beam "$b" --fusion dr --weights "$WEIGHTS" --scale model --out "$OUT/small_beam$b"
done
asr trace "${COMMON[@]}" --beam 16 --fusion none --scale model --out "$OUT/small_nolm_beam16"
