#!/usr/bin/env bash
# Regenerate everything downstream of the shipped acoustic model models/multi (scripts/refresh_small.sh does the
# same for the espeak-only models/small study). Steps, in order (name them to run only some):
#   eval      greedy WER of models/multi, models/multi_int8, models/multi_int4 on every test set
#             -> models/multi*/eval.json; the table in docs/asr.md (python3 -m asr.train.report --write)
#   fusion    DR and shallow fusion weights tuned on 100 multi-voice target-dev utterances (beam 4)
#             -> models/multi/fusion_{dr,shallow}.json
#   search    WER by beam x fusion x precision, in domain and on the unseen / independent voices
#             -> docs/results-search.{md,csv}
#   workloads traces of real decodes of models/multi + each precision's WER on them -> workloads/
#   sim       the simulator's generated pages and the paper sweep -> docs/simulator.md, docs/sweeps.md, ...
# The QAT + packed exports models/multi_int8 / models/multi_int4 are made by models/multi/COMMAND.txt
# (section 5); they are inputs here. Needs data/multi (models/multi/COMMAND.txt, section 1) and data/corpus.
# Usage: scripts/refresh_results.sh [eval] [fusion] [search] [workloads] [sim]     (default: all; ~1.5 h on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=models/multi
DEV=data/multi/target_dev.jsonl
TEST=data/multi/target_test.jsonl
EXTRA=data/multi/target_test_unseen.jsonl,data/multi/target_test_independent.jsonl
SETS=(data/corpus/source_test.jsonl data/corpus/target_test.jsonl data/multi/source_test.jsonl "$TEST"
      data/multi/source_test_unseen.jsonl data/multi/target_test_unseen.jsonl
      data/multi/source_test_independent.jsonl data/multi/target_test_independent.jsonl)
STEPS=("$@")
[ ${#STEPS[@]} -gt 0 ] || STEPS=(eval fusion search workloads sim)
mkdir -p runs/refresh_multi
log() { echo "$(date +%H:%M:%S) $*"; }
wants() { [[ " ${STEPS[*]} " == *" $1 "* ]]; }

if wants eval; then
  for m in "$MODEL" "${MODEL}_int8" "${MODEL}_int4"; do
    log "eval $m"
    asr eval --model "$m" --threads 1 "${SETS[@]}" \
      --out "$m/eval.json" --no-progress > "runs/refresh_multi/eval_$(basename "$m").txt"
  done
  python3 -m asr.train.report --write
fi

if wants fusion; then
  log "fusion weights on $DEV"
  # (the default grid, lambda 0.2-0.8 x mu 0-0.4 x rho 0-1.5, put the best DR point at lambda 0.8, mu 0.4:
  #  its edge; this grid extends it there)
  asr tune-fusion --ckpt "$MODEL" --fusion dr --manifest "$DEV" --limit 100 --beam 4 \
    --lambda-values 0.6,0.8,1.0,1.2 --mu-values 0.2,0.4,0.6 --rho-values 0.5,1.0,1.5 \
    --out "$MODEL/fusion_dr.json" --no-progress > runs/refresh_multi/tune_dr.log 2>&1
  asr tune-fusion --ckpt "$MODEL" --fusion shallow --manifest "$DEV" --limit 100 --beam 4 \
    --lambda-values 0.2,0.4,0.6,0.8,1.0 \
    --out "$MODEL/fusion_shallow.json" --no-progress > runs/refresh_multi/tune_shallow.log 2>&1
  tail -2 runs/refresh_multi/tune_dr.log runs/refresh_multi/tune_shallow.log
fi

if wants search; then
  log "search table"
  OMP_NUM_THREADS=1 python3 scripts/search_results.py --ckpt "$MODEL" --int4-ckpt "${MODEL}_int4" \
    --recipe recipes/int4.yaml --int8-ckpt "${MODEL}_int8" --weights-dr "$MODEL/fusion_dr.json" \
    --weights-shallow "$MODEL/fusion_shallow.json" --manifest "$TEST" --extra-manifests "$EXTRA" \
    --extra-beams 1,16 --extra-limit 100 --limit 100 > runs/refresh_multi/search_results.log 2>&1
  tail -3 runs/refresh_multi/search_results.log
fi

if wants workloads; then
  log "workloads"
  MANIFEST="$TEST" WEIGHTS="$MODEL/fusion_dr.json" scripts/make_workloads.sh "$MODEL" 10 \
    > runs/refresh_multi/make_workloads.log 2>&1
  python3 scripts/precision_wers.py --model "$MODEL" workloads/* > runs/refresh_multi/precision_wers.log 2>&1
  cat runs/refresh_multi/precision_wers.log
fi

if wants sim; then
  log "simulator pages and the paper sweep"
  python3 scripts/sim_results.py --write
  python3 scripts/energy_results.py --write docs/simulator.md
  python3 scripts/validation_results.py
  rm -rf runs/paper
  accelsim sweep sweeps/paper.yaml --out runs/paper --no-progress
  accelsim report runs/paper -o runs/paper/report.html --markdown docs/sweeps.md
fi
log "done"
