# Shared set-up of the lease scripts (sourced by run.sh and rerun.sh): the results folder, the
# environment every job inherits, the deadline clock, and the machine's description in gpu.txt.
# Needs OUT, TOTAL_S, PY and TAG set by the caller.
R=$OUT/results
mkdir -p "$R"
export PYTHONUNBUFFERED=1 STRUCTAUG_PROGRESS=0 OMP_NUM_THREADS=1
export STRUCTAUG_CACHE=${STRUCTAUG_CACHE:-/tmp/structaug_cache}
START=$(date +%s)
log() { echo "[$TAG $(($(date +%s) - START))s] $*" | tee -a "$OUT/run.log"; }
# seconds to the deadline, at least 1: `timeout 0` would mean no limit at all
left() {
  l=$((START + TOTAL_S - $(date +%s)))
  if [ "$l" -gt 0 ]; then echo "$l"; else echo 1; fi
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$R/gpu.txt" 2>&1
lscpu | grep -E '^(Model name|CPU\(s\))' >>"$R/gpu.txt" 2>&1
$PY -c "import torch, torch_geometric, sklearn, xgboost, tensorly; print('torch', torch.__version__, 'pyg', torch_geometric.__version__, 'xgboost', xgboost.__version__, 'cuda', torch.cuda.is_available())" >>"$R/gpu.txt" 2>&1
(nvidia-smi dmon -s um -d 10 >"$R/dmon.log" 2>&1 &)
