#!/usr/bin/env bash
# Regenerate the shipped workloads from real decodes of the shipped acoustic model (docs/search.md, "Traces"):
#   workloads/rnnt_beam{1,4,8,16,32}       paper-scale re-emission, DR fusion (tuned weights)
#   workloads/rnnt_nolm_beam{1,4,8,16,32}  paper-scale re-emission, no LM
#   workloads/small_beam{1,16}, small_nolm_beam16   the decoded model's own shapes (configs/small.yaml)
# Usage: [OUT=dir] [WEIGHTS=fusion.json] [MANIFEST=test.jsonl] scripts/make_workloads.sh [CKPT] [UTTERANCES]
#        (defaults: workloads, CKPT/fusion_dr.json, data/multi/target_test.jsonl, models/multi, 10)
# Then: python3 scripts/precision_wers.py --model CKPT workloads/*   (WER of the INT8 / INT4 exports)
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${1:-models/multi}
N=${2:-10}
WEIGHTS=${WEIGHTS:-$CKPT/fusion_dr.json}
MANIFEST=${MANIFEST:-data/multi/target_test.jsonl}
OUT=${OUT:-workloads}
COMMON=(--ckpt "$CKPT" --manifest "$MANIFEST" --limit "$N" --pclass-recipe recipes/int4.yaml)
for b in 1 4 8 16 32; do
  asr trace "${COMMON[@]}" --beam "$b" --fusion dr --weights "$WEIGHTS" --scale paper --out "$OUT/rnnt_beam$b"
  asr trace "${COMMON[@]}" --beam "$b" --fusion none --scale paper --out "$OUT/rnnt_nolm_beam$b"
done
for b in 1 16; do
  asr trace "${COMMON[@]}" --beam "$b" --fusion dr --weights "$WEIGHTS" --scale model --out "$OUT/small_beam$b"
done
asr trace "${COMMON[@]}" --beam 16 --fusion none --scale model --out "$OUT/small_nolm_beam16"
