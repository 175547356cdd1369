#!/bin/sh
# DreamLab's DeepDream benchmark as reported in bench/DREAM.md: two pinned CPU cores (quiet machine),
# then the GPU when there is one. Run from the repository root.
set -e
mkdir -p bench/results
OMP_NUM_THREADS=2 taskset -c 0,1 python -m dreamlab benchmark --device cpu \
    --json bench/results/benchmark_cpu_2cores.json
OMP_NUM_THREADS=2 taskset -c 0,1 python bench/dream_study.py --device cpu \
    --json bench/results/study_cpu_2cores.json
if python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    python -m dreamlab benchmark --device cuda --json bench/results/benchmark_cuda.json
fi
