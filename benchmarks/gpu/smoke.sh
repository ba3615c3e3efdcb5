#!/usr/bin/env bash
# GPU smoke pass: every method's CUDA path on small data, plus the MCLRec epoch-time benchmark.
# Usage (repo root, data laid out like shared/datasets): DEVICE=cuda OUT=out bash benchmarks/gpu/smoke.sh
# Each step has its own time limit so one hang cannot eat the rest; logs and JSON land in $OUT.
set -u
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 STRUCTAUG_PROGRESS=0 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export STRUCTAUG_CACHE=${STRUCTAUG_CACHE:-/tmp/structaug_cache}
PY=${PY:-python3}
SA="$PY -m structaug.cli"
step() {  # step NAME SECONDS CMD...
  local name=$1 secs=$2; shift 2
  local t0=$(date +%s)
  timeout "$secs" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "[smoke] $name rc=$rc $(( $(date +%s) - t0 ))s"
  tail -n 4 "$OUT/$name.log"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
$PY -c "import torch, torch_geometric, sklearn, xgboost, tensorly; print('torch', torch.__version__, 'pyg', torch_geometric.__version__, 'cuda', torch.cuda.is_available())"
step demo 120 $SA demo --quick --device "$DEVICE" --json "$OUT/demo_quick.json"
step epoch_time 200 $PY benchmarks/run_mclrec_epoch_time.py --device "$DEVICE" --epochs 2 --threads 1 \
  ${EPOCH_TIME_ARGS:-} --out "$OUT/mclrec_epoch_time_gpu.json"
step lagnn_quick 150 $SA bench lagnn --quick --device "$DEVICE" --datasets Cora \
  --methods GCN,LA-GCN,GAT,LA-GAT,GCNII,LA-GCNII,RandNbr-GCN --out "$OUT/lagnn_quick.json" --no-progress
step mclrec_quick 120 $SA bench mclrec --quick --device "$DEVICE" --workers 2 --methods SASRec,MCLRec \
  --max-minutes 0.1 --out "$OUT/mclrec_quick.json" --no-progress
echo "[smoke] done"
