#!/usr/bin/env bash
# The models/small study (espeak-ng only; scripts/refresh_results.sh refreshes the shipped models/multi):
# regenerate everything downstream of the acoustic model models/small, two jobs at a time (2 cores, ~45 min):
#   1. greedy WER of models/small            -> models/small/eval.json, eval.txt
#      + source test with the source LM     -> models/small/fusion_source.json, eval_source_lm.{json,txt}
#   2. QAT: control, INT8, INT4, INT4 naive  -> runs/qat_final/*, docs/results-quant.md, models/small_int4
#   3. WER by beam x fusion x precision      -> docs/results-search-small.{md,csv}   (beside the QAT runs)
#   4. workloads traced from real decodes    -> runs/workloads_small/  (the shipped workloads/ come from models/multi)
# Usage: scripts/refresh_small.sh              (needs data/corpus: `asr data build --out data/corpus`)
set -euo pipefail
cd "$(dirname "$0")/.."
QAT=runs/qat_final
CACHE=runs/qat/feature_cache
mkdir -p "$QAT"
log() { echo "$(date +%H:%M:%S) $*"; }

log "eval models/small"
asr eval --model models/small data/corpus/source_test.jsonl data/corpus/target_test.jsonl \
  --vocab-text data/corpus/lm_source_train.txt \
  --out models/small/eval.json > models/small/eval.txt
cat models/small/eval.txt

qat() {  # recipe name
  asr qat --from models/small --recipe "recipes/$1.yaml" --data data/corpus --out "$QAT/$1" --steps 250 \
    --cache "$CACHE" --threads 1 > "$QAT/$1.out" 2>&1
  log "qat $1 done: $(tail -1 "$QAT/$1.out")"
}

log "QAT int4 + control (the first builds the feature cache)"
qat int4 &
A=$!
# the control starts once int4 has cached the features (its first dev decode comes after that)
until grep -q "fp32 source_dev" "$QAT/int4.out" 2> /dev/null || ! kill -0 $A 2> /dev/null; do sleep 5; done
qat fp32_finetune
wait $A
asr export --from "$QAT/int4" --out models/small_int4
echo "asr export --from $QAT/int4 --out models/small_int4" > models/small_int4/EXPORT_COMMAND.txt
cp "$QAT/int4/COMMAND.txt" models/small_int4/QAT_COMMAND.txt

log "search table (1 thread) beside QAT int8 + int4_naive"
OMP_NUM_THREADS=1 python3 scripts/search_results.py --ckpt models/small --int4-ckpt models/small_int4 \
  --recipe recipes/int4.yaml --int8-ckpt models/small_int8 \
  --extra-manifests data/multi/target_test_unseen.jsonl,data/multi/target_test_independent.jsonl \
  --extra-beams 1,16 --extra-limit 50 --limit 100 --csv docs/results-search-small.csv \
  --out docs/results-search-small.md > runs/search_results_small.log 2>&1 &
S=$!
qat int8
qat int4_naive
log "source domain with its own LM: shallow-fusion weights on source_dev, then source_test at beam 16"
asr tune-fusion --ckpt models/small --fusion shallow --lm-target models/lm_source --manifest data/corpus/source_dev.jsonl \
  --limit 100 --beam 4 --lambda-values 0.2,0.4,0.6 --rho-values 0,0.5,1.0 --out models/small/fusion_source.json \
  > runs/fusion_source.log 2>&1
asr decode --ckpt models/small --lm-target models/lm_source --manifest data/corpus/source_test.jsonl --beam 16 \
  --fusion shallow --weights models/small/fusion_source.json --out models/small/eval_source_lm.json \
  > models/small/eval_source_lm.txt 2>&1
tail -3 models/small/eval_source_lm.txt
python3 scripts/quant_results.py "$QAT/fp32_finetune" "$QAT/int8" "$QAT/int4" "$QAT/int4_naive" \
  --out docs/results-quant.md
wait $S
log "search table done"

log "workloads of models/small (not the shipped ones)"
OUT=runs/workloads_small MANIFEST=data/corpus/target_test.jsonl WEIGHTS=models/lm_target/fusion_dr.json \
  scripts/make_workloads.sh models/small 10 > runs/make_workloads_small.log 2>&1
log "done"
