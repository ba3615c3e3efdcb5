#!/usr/bin/env bash
# One lease's reruns at a clean commit on the lent machine (one GPU, 16 CPU cores), sized to a
# fixed wall-clock budget; PARTS picks what runs, all parts at once:
#
#   STRUCTAUG_GIT_COMMIT=$(git rev-parse HEAD) DEVICE=cuda OUT=out TOTAL_S=480 \
#     PARTS="demo tests tjepa_default tjepa_medium" bash benchmarks/gpu/rerun.sh
#
# parts (each process writes its own JSON; merge here with benchmarks/merge_gpu_results.py, which
# keeps each file's environment):
#   demo          `structaug demo --quick` on the GPU: every method's CUDA path (one process),
#                 then, with `tests`, the tests named in TESTS with the GPU present
#   tjepa_default T-JEPA at the library's default budget (TJEPA(): 4 x 64, up to 100 epochs,
#                 patience 10) on adult, one GPU process per seed
#   tjepa_medium  benchmarks/run_tjepa_medium.py at its reduced budget on the CPU cores, one
#                 one-thread process per (table, seed), as in benchmarks/results/tjepa_medium.json
#   tjepa_reg     the [REG]-token ablation (0 and 4 tokens, adult, seed 0) on two CPU cores
#   lagnn_gat     `structaug bench lagnn` GAT and LA-GAT on Cora and CiteSeer, seeds 0-9, on the
#                 CPU cores (--workers LAGNN_WORKERS), after one process per graph fits its CVAE
#   hypertab_ref  benchmarks/run_hypertab_reference.py, one process per table (the reference
#                 package's wheel travels in .whl; torchvision is the machine's own)
# Everything lands in $OUT/rerun_results.tar.gz. Data: $STRUCTAUG_DATA laid out like
# shared/datasets. The tree must be the clean commit named by STRUCTAUG_GIT_COMMIT (a shipped
# tree has no .git to ask).
set -u
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-gpu_out}
TOTAL_S=${TOTAL_S:-480}
SEEDS=${SEEDS:-0 1 2}
PARTS=${PARTS:-demo tests tjepa_default tjepa_medium}
TESTS=${TESTS:-tests}
LAGNN_WORKERS=${LAGNN_WORKERS:-9}
PY=${PY:-python3}
TAG=rerun
# shellcheck source=benchmarks/gpu/common.sh
. "$(dirname "$0")/common.sh"
want() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac }

log "$(tr '\n' ' ' <"$R/gpu.txt") commit=${STRUCTAUG_GIT_COMMIT:-unset} parts: $PARTS"

if want demo; then  # the GPU: demo first, then the tests (one process each, in sequence)
  (
    timeout 150 $PY -m structaug.cli demo --quick --device "$DEVICE" --json "$R/demo_quick_gpu_h200.json" >"$R/demo.log" 2>&1
    log "demo rc=$?"
    if want tests && [ "$(left)" -gt 60 ]; then
      # shellcheck disable=SC2086  # TESTS is a list of paths and options
      timeout "$(($(left) - 20))" $PY -m pytest -q -p no:cacheprovider --maxfail=20 $TESTS >"$R/pytest.log" 2>&1
      log "pytest rc=$? $(tail -1 "$R/pytest.log")"
    fi
  ) &
fi

if want tjepa_default; then
  for s in $SEEDS; do
    timeout "$(left)" $PY benchmarks/run_tjepa_medium.py --datasets adult --seeds "$s" --budget default \
      --device "$DEVICE" --max-rows 5000 --out "$R/tjepa_default_adult_$s.json" >"$R/tjepa_default_adult_$s.log" 2>&1 &
  done
fi

if want tjepa_medium; then
  for ds in phoneme magic adult spambase; do
    rows=5000
    [ "$ds" = spambase ] && rows=1500
    for s in $SEEDS; do
      timeout "$(left)" $PY benchmarks/run_tjepa_medium.py --datasets "$ds" --seeds "$s" --device cpu \
        --max-rows "$rows" --out "$R/tjepa_medium_${ds}_$s.json" >"$R/tjepa_medium_${ds}_$s.log" 2>&1 &
    done
  done
fi

if want tjepa_reg; then
  for k in 0 4; do
    timeout "$(left)" $PY benchmarks/run_tjepa_medium.py --datasets adult --seeds 0 --reg-tokens "$k" --no-baselines \
      --device cpu --max-rows 5000 --out "$R/tjepa_reg_$k.json" >"$R/tjepa_reg_$k.log" 2>&1 &
  done
fi

if want lagnn_gat; then
  LAGNN_FLAGS="--patience 100 --max-epochs 1000 --uscore-every 50 --device cpu --no-progress"
  (
    # one CVAE per graph (seed 0, cached atomically), fitted once before the workers share it
    for ds in Cora CiteSeer; do
      # (--max-epochs 1 after the shared flags: argparse keeps the last value)
      timeout "$(left)" $PY -m structaug.cli bench lagnn --datasets "$ds" --methods LA-GAT --seeds 1 \
        $LAGNN_FLAGS --max-epochs 1 --out "/tmp/lagnn_warm_$ds.json" >"$R/lagnn_warm_$ds.log" 2>&1 &
    done
    wait
    log "lagnn CVAEs cached"
    timeout "$(left)" $PY -m structaug.cli bench lagnn --datasets Cora,CiteSeer --methods GAT,LA-GAT --seeds 10 \
      $LAGNN_FLAGS --workers "$LAGNN_WORKERS" --out "$R/lagnn_gat.json" >"$R/lagnn_gat.log" 2>&1
    log "lagnn rc=$?"
  ) &
fi

if want hypertab_ref; then
  for ds in sonar breast_cancer_wisconsin synthetic_1000x60 pima; do
    timeout "$(left)" $PY benchmarks/run_hypertab_reference.py --datasets "$ds" --seeds 0,1,2 --epochs 50 --views 100 \
      --out "$R/hypertab_reference_$ds.json" >"$R/hypertab_reference_$ds.log" 2>&1 &
  done
fi

while [ "$(left)" -gt 5 ] && [ -n "$(jobs -r)" ]; do sleep 5; done
log "deadline or done: $(jobs -r | wc -l) jobs still running"
wait
pkill -f "nvidia-smi dmon" 2>/dev/null
log "json files: $(ls "$R"/*.json 2>/dev/null | wc -l)"
tar czf "$OUT/rerun_results.tar.gz" -C "$OUT" results run.log
log "packed $(du -h "$OUT/rerun_results.tar.gz" | cut -f1)"
