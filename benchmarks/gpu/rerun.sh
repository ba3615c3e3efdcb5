#!/usr/bin/env bash
# One GPU lease's reruns at a clean commit, sized to a fixed wall-clock budget:
#
#   STRUCTAUG_GIT_COMMIT=$(git rev-parse HEAD) DEVICE=cuda OUT=out TOTAL_S=480 bash benchmarks/gpu/rerun.sh
#
# * `structaug demo --quick` on the GPU: every method's CUDA path, one process;
# * then the default test run with the GPU present (the tests that take CUDA when there is one);
# * T-JEPA at the library's default budget (TJEPA(): 4 layers x 64, up to 100 epochs, patience
#   10) on adult, one GPU process per seed;
# * benchmarks/run_tjepa_medium.py at its reduced budget on the CPU cores, one one-thread process
#   per (table, seed), as committed in benchmarks/results/tjepa_medium.json.
# Every process writes its own JSON; merge the T-JEPA ones here afterwards with
# `python benchmarks/run_tjepa_medium.py --merge ... --out ...`. Everything lands in
# $OUT/rerun_results.tar.gz. Data: $STRUCTAUG_DATA laid out like shared/datasets. The tree must be
# the clean commit named by STRUCTAUG_GIT_COMMIT (a shipped tree has no .git to ask).
set -u
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-gpu_out}
TOTAL_S=${TOTAL_S:-480}
SEEDS=${SEEDS:-0 1 2}
PY=${PY:-python3}
R=$OUT/results
mkdir -p "$R"
export PYTHONUNBUFFERED=1 STRUCTAUG_PROGRESS=0 OMP_NUM_THREADS=1
START=$(date +%s)
log() { echo "[rerun $(($(date +%s) - START))s] $*" | tee -a "$OUT/run.log"; }
left() { echo $((START + TOTAL_S - $(date +%s))); }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$R/gpu.txt" 2>&1
lscpu | grep -E '^(Model name|CPU\(s\))' >>"$R/gpu.txt" 2>&1
$PY -c "import torch, torch_geometric, sklearn, xgboost, tensorly, lightgbm; print('torch', torch.__version__, 'pyg', torch_geometric.__version__, 'xgboost', xgboost.__version__, 'cuda', torch.cuda.is_available())" >>"$R/gpu.txt" 2>&1
log "$(tr '\n' ' ' <"$R/gpu.txt") commit=${STRUCTAUG_GIT_COMMIT:-unset}"
(nvidia-smi dmon -s um -d 10 >"$R/dmon.log" 2>&1 &)

# the GPU: demo first, then the tests (one process each, in sequence)
(
  timeout 150 $PY -m structaug.cli demo --quick --device "$DEVICE" --json "$R/demo_quick_gpu_h200.json" >"$R/demo.log" 2>&1
  log "demo rc=$?"
  if [ "$(left)" -gt 60 ]; then
    timeout "$(($(left) - 20))" $PY -m pytest -q -p no:cacheprovider --maxfail=20 tests >"$R/pytest.log" 2>&1
    log "pytest rc=$? $(tail -1 "$R/pytest.log")"
  fi
) &

# T-JEPA, library defaults, on the GPU
for s in $SEEDS; do
  timeout "$(left)" $PY benchmarks/run_tjepa_medium.py --datasets adult --seeds "$s" --budget default \
    --device "$DEVICE" --max-rows 5000 --out "$R/tjepa_default_adult_$s.json" >"$R/tjepa_default_adult_$s.log" 2>&1 &
done

# T-JEPA medium track, reduced budget, one CPU core per (table, seed)
for ds in phoneme magic adult spambase; do
  rows=5000
  [ "$ds" = spambase ] && rows=1500
  for s in $SEEDS; do
    timeout "$(left)" $PY benchmarks/run_tjepa_medium.py --datasets "$ds" --seeds "$s" --device cpu \
      --max-rows "$rows" --out "$R/tjepa_medium_${ds}_$s.json" >"$R/tjepa_medium_${ds}_$s.log" 2>&1 &
  done
done

while [ "$(left)" -gt 5 ] && [ -n "$(jobs -r)" ]; do sleep 5; done
log "deadline or done: $(jobs -r | wc -l) jobs still running"
wait
pkill -f "nvidia-smi dmon" 2>/dev/null
log "json files: $(ls "$R"/*.json 2>/dev/null | wc -l)"
tar czf "$OUT/rerun_results.tar.gz" -C "$OUT" results run.log
log "packed $(du -h "$OUT/rerun_results.tar.gz" | cut -f1)"
