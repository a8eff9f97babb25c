#!/usr/bin/env bash
# One prepared GPU session, about 8 minutes: correctness on the GPU first, then speed.
# Needs an environment with CUDA builds of torch (with triton) and jax, and diffmem
# installed (pip install -e ".[dev]" with the CUDA wheels).  Run from the repository root:
#     bash benchmarks/gpu_check.sh 2>&1 | tee gpu_check.log
set -u
export XLA_PYTHON_CLIENT_PREALLOCATE=false     # let torch and jax share the GPU
export JAX_DEFAULT_MATMUL_PRECISION=highest    # float32 means float32 (MEASUREMENTS.md)
unset TRITON_INTERPRET                         # compile the kernels for the GPU
CASES="ntm-random-ff-n1-init,ntm-random-ff-n2-wide-sharp,ntm-copy-ff-zero-memory-rows,\
ntm-random-ff-multihead-zero-keys,ntm-copy-lstm-sharp,ntm-copy-ff-overflow"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
echo "== 1. the kernels and the graph captures against the reference (float32, float64)"
timeout 240 diffmem check --device cuda --jobs 1 --no-progress --cases "$CASES" \
    --backend triton --backend triton-graphs --backend torch-graphs
echo "== 2. CUDA-graph replays equal eager, fresh gradients per replay"
timeout 60 python -m pytest -q -p no:cacheprovider -m cuda tests/backends/test_backend_graphs.py
echo "== 3. throughput, float32 forward + backward, copy configuration"
timeout 300 python benchmarks/bench_gpu.py --seconds 1
