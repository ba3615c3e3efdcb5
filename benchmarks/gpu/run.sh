#!/usr/bin/env bash
# One GPU session's benchmark pass, sized to a fixed wall-clock budget (the lent GPU is time-limited).
#
#   DEVICE=cuda OUT=out TOTAL_S=400 bash benchmarks/gpu/run.sh
#
# Use a fresh OUT per run: every script and `structaug bench` call refuses results already there.
#
# Phase A (GPU to itself): MCLRec/CL4SRec/SASRec epoch times on Beauty, fp32 and bf16.
# Phase B (GPU shared by parallel processes until the deadline):
#   * demo --quick on the GPU (every method's CUDA path);
#   * MCLRec bench on Sports, Toys, Yelp: Popularity, SASRec, CL4SRec, MCLRec, each fit stopped by
#     --max-minutes so that all finish by the deadline (best-validation weights are tested);
#   * LAGNN on Cora and CiteSeer: GCN/GAT/LA-GCN/LA-GAT over seeds 0-99, GCNII and LA-GCNII in their
#     own processes; rows are saved after every seed, processes are stopped at the deadline.
# Everything is logged and packed into $OUT/gpu_results.tar.gz (the JSON files keep their config,
# seed, versions and device). Data: $STRUCTAUG_DATA laid out like shared/datasets.
#
# What the first use (one H200, 15-minute lease) taught: the GPU time-slices between processes, and
# 9 launch-bound MCLRec jobs made each MCLRec epoch 4-8x slower than alone (16.7 s on Beauty), so a
# converged Sports/Yelp MCLRec (~30 epochs, ~25 s each alone) needs one job per lease with
# --checkpoint-dir, its checkpoint carried back through $OUT (split under 16 MiB) and resumed.
set -u
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-gpu_out}
TOTAL_S=${TOTAL_S:-400}
SEEDS=${SEEDS:-0-99}
MCLREC_DATASETS=${MCLREC_DATASETS-Sports_and_Outdoors,Toys_and_Games,Yelp}  # set empty to skip
LAGNN_DATASETS=${LAGNN_DATASETS-Cora CiteSeer}  # set empty to skip
PY=${PY:-python3}
SA="$PY -m structaug.cli"
TAG=gpu
# shellcheck source=benchmarks/gpu/common.sh
. "$(dirname "$0")/common.sh"
log "$(cat "$R/gpu.txt" | tr '\n' ' ')"

# ---- phase A: epoch times, GPU to itself ------------------------------------------------------
if [ "${EPOCH_TIME_S:-110}" -gt 0 ]; then  # EPOCH_TIME_S=0 skips phase A
  log "phase A: MCLRec epoch times"
  timeout ${EPOCH_TIME_S:-110} $PY benchmarks/run_mclrec_epoch_time.py --device "$DEVICE" --epochs 2 --threads 1 \
    ${EPOCH_TIME_ARGS:-} --out "$R/mclrec_epoch_time_gpu.json" > "$R/epoch_time.log" 2>&1
  log "epoch times rc=$? $(grep -c epoch "$R/epoch_time.log") lines"
fi

# ---- phase B: parallel until the deadline ------------------------------------------------------
log "phase B: $(left)s left"
timeout 120 $SA demo --quick --device "$DEVICE" --json "$R/demo_quick_gpu.json" > "$R/demo.log" 2>&1 &

MIN=$($PY -c "print(max(0.2, ($(left) - 75) / 60))")
log "MCLRec fits capped at $MIN min"
for ds in ${MCLREC_DATASETS//,/ }; do
  timeout $(( $(left) + 60 )) $SA bench mclrec --device "$DEVICE" --datasets "$ds" --seeds 1 --workers 4 \
    --epochs 300 --patience 40 --max-minutes "$MIN" --no-progress ${MCLREC_ARGS:-} \
    --out "$R/mclrec_${ds}_gpu.json" > "$R/mclrec_${ds}.log" 2>&1 &
done

lagnn() {  # lagnn TAG DATASET METHODS SEEDS
  timeout "$(left)" $SA bench lagnn --device "$DEVICE" --datasets "$2" --methods "$3" --seeds "$4" \
    --no-progress ${LAGNN_ARGS:-} --out "$R/lagnn_$2_$1_gpu.json" > "$R/lagnn_$2_$1.log" 2>&1
}
for ds in $LAGNN_DATASETS; do
  lagnn a "$ds" LA-GCN,GCN,LA-GAT,GAT "$SEEDS" &
  lagnn c "$ds" GCNII "$SEEDS" &
  # the rest wait for the CVAE that process a fits and caches (atomically), then share it
  ( while ! ls "$STRUCTAUG_CACHE"/lagnn/"$ds"_*_seed0.pt > /dev/null 2>&1 && [ "$(left)" -gt 30 ]; do sleep 3; done
    log "$ds CVAE cached"
    lagnn b "$ds" LA-GCNII "$SEEDS" &
    lagnn d "$ds" LA-GCN,GCN,LA-GAT,GAT "${SEEDS2:-50-99}" &
    wait ) &
done

while [ "$(left)" -gt 5 ] && [ -n "$(jobs -r)" ]; do sleep 5; done
log "deadline: $(jobs -r | wc -l) jobs still running (MCLRec tests its best weights; 60 s grace)"
wait
pkill -f "nvidia-smi dmon" 2>/dev/null
for f in "$R"/*.json; do
  $PY - "$f" <<'PY' 2>/dev/null | tee -a "$OUT/run.log"
import json, sys, collections
d = json.load(open(sys.argv[1])); rs = d.get("records", [])
c = collections.Counter((r.get("method"), r.get("status", "ok")) for r in rs)
print(sys.argv[1].rsplit("/", 1)[-1], dict(c))
PY
done
tar czf "$OUT/gpu_results.tar.gz" -C "$OUT" results run.log
log "packed $(du -h "$OUT/gpu_results.tar.gz" | cut -f1)"
