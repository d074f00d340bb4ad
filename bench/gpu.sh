#!/usr/bin/env bash
# The CUDA path in one short run (under 5 minutes on one GPU): checks, then throughput.
#
#   bash bench/gpu.sh [SAMPLE_DIR] [OUT_JSON]
#
# SAMPLE_DIR: an ILSVRC-val folder of real JPEGs (default ../shared/data/imagenet-val-sample); OUT_JSON: where the
# figures go (default results/benchmarks_gpu.json). Prints, then writes with `python bench/run.py --cuda-path`:
# images/s of the forward pass alone and of logits + top-5 CAMs + boxes (bf16 autocast, channels-last), of
# `evaluate` over the JPEG files decoded on the GPU (nvJPEG) and by PIL in loader workers, their ratios, and the
# wall time of a fresh `localize` process. Before that, the checks: CUDA localize agrees with the CPU one in fp32,
# AMP + channels-last + GPU decoding run, and batches are pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLE=${1:-../shared/data/imagenet-val-sample}
OUT_JSON=${2:-results/benchmarks_gpu.json}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name(0))"
tmp=$(mktemp -d)
common=(--data imagenet --root "$SAMPLE" --model tf_efficientnet_lite0 --pretrained --no-progress --baselines)
# 1. fp32 on the GPU (PIL decode) against the CPU: the same images, numbers within float error
$PY -m cam_lib localize "${common[@]}" --limit 96 --device cpu --json "$tmp/cpu.json" >/dev/null
$PY -m cam_lib localize "${common[@]}" --limit 96 --device cuda --json "$tmp/cuda.json" >/dev/null
# 2. the GPU path: nvJPEG decode, bf16 autocast, channels-last, pinned batches (loader workers on CUDA)
$PY -m cam_lib localize "${common[@]}" --device cuda --decode device --amp --channels-last --workers 4 \
    --batch-size 128 --json "$tmp/gpu_path.json" >/dev/null
$PY - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
cpu, cuda, fast = (json.load(open(f"{t}/{k}.json")) for k in ("cpu", "cuda", "gpu_path"))
keys = ["top1_cls_err", "top5_cls_err", "top1_loc_err", "top5_loc_err", "gt_known_loc_acc", "maxboxacc_v2"]
print("metric            cpu fp32  cuda fp32  cuda bf16+nvjpeg (all 300)")
for k in keys:
    print(f"{k:17s} {cpu[k]:8.4f}  {cuda[k]:9.4f}  {fast[k]:9.4f}")
worst = max(abs(cpu[k] - cuda[k]) for k in keys)
print(f"largest |cpu - cuda| over the fp32 metrics on 96 images: {worst:.4f} ({worst * 96:.0f} image(s))")
PY
$PY bench/run.py --cuda-path --e2e-root "$SAMPLE" --json "$OUT_JSON"
# where the time of a batch goes, phase by phase (ms per image)
$PY bench/gpu_phases.py "$SAMPLE"
rm -rf "$tmp"
