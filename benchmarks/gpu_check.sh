# The GPU check, in one go, under 8 minutes on one NVIDIA GPU (the step time limits add
# up to 7.8 minutes): what the machine gives diffmem (`diffmem doctor`), the CUDA tests,
# `diffmem check --device cuda` in every precision, the Triton kernels and CUDA-graph
# captures checked on the GPU, and the GPU benchmark at batches 1 to 4096.  Every
# step's log goes into one folder, with a summary of exit statuses and seconds.
#
#   benchmarks/gpu_check.sh [LOGDIR]     (default: $OUT if set, else gpu-check-<UTC time>)
#
# Needs the CUDA builds of torch and jax installed (docs/gpu.md).  Each step has its own
# time limit (timeout), so one hung step cannot eat the others' time; a step that fails
# is recorded and the script goes on.  Exit status: 0 only if every step exited 0.
# Not yet run on a GPU.
set -u
cd "$(dirname "$0")/.."
LOGDIR=${1:-${OUT:-gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}}
mkdir -p "$LOGDIR"
DIFFMEM=${DIFFMEM:-diffmem}
PYTHON=${PYTHON:-python}
# One process touching the GPU must not let JAX claim 75 % of it (docs/gpu.md).
export XLA_PYTHON_CLIENT_PREALLOCATE=false
# The fixture cases the low-precision checks run on (all 34 for float32/float64).
MODE_CASES=${MODE_CASES:-"ntm-copy-ff-init,ntm-copy-lstm-sharp,ntm-random-ff-multihead-zero-keys,ntm-copy-ff-extreme,ntm-random-lstm-n2-init,ntm-associative-recall-lstm-sharp"}
SUMMARY="$LOGDIR/summary.txt"
: > "$SUMMARY"
FAILED=0

step() {   # step NAME SECONDS command...
    local name=$1 limit=$2 start rc
    shift 2
    start=$(date +%s)
    echo "== $name: $*" | tee -a "$SUMMARY"
    timeout --kill-after=10 "$limit" "$@" > "$LOGDIR/$name.log" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] || FAILED=1
    echo "   rc=$rc ($([ "$rc" -eq 124 ] && echo "timed out after ${limit} s, " )$(( $(date +%s) - start )) s)" \
        | tee -a "$SUMMARY"
}

step doctor 25 "$DIFFMEM" doctor
timeout 15 "$DIFFMEM" doctor --json > "$LOGDIR/doctor.json" 2>/dev/null
# The CUDA tests: the bundled backends, precision scoping, CUDA-graph replays.
step pytest-cuda 70 "$PYTHON" -m pytest -m cuda -q -rs -p no:cacheprovider tests/
step check-float64-float32 120 "$DIFFMEM" check --device cuda --dtype both --jobs 1 \
    --no-progress --report "$LOGDIR/check-float64-float32.json"
# The modes beside float64, whose run checks what a mode can hold to its noise bound
# only (docs/precision.md); fixtures only, no held-out cases, to stay in time.
step check-modes 85 "$DIFFMEM" check --device cuda --dtype float64 --dtype tf32 \
    --dtype bfloat16 --dtype float16 --cases "$MODE_CASES" --heldout 0 --jobs 1 \
    --no-progress --report "$LOGDIR/check-modes.json"
# The Triton kernels compiled for the GPU, and the CUDA-graph captures, against the reference.
TRITON_CASES=${TRITON_CASES:-"ntm-random-ff-n1-init,ntm-random-ff-n2-wide-sharp,ntm-copy-ff-zero-memory-rows,ntm-random-ff-multihead-zero-keys,ntm-copy-lstm-sharp,ntm-copy-ff-overflow"}
step check-triton-graphs 60 env -u TRITON_INTERPRET "$DIFFMEM" check --device cuda --jobs 1 \
    --no-progress --cases "$TRITON_CASES" --backend triton --backend triton-graphs \
    --backend torch-graphs --report "$LOGDIR/check-triton-graphs.json"
# Throughput, float32 forward + backward, copy configuration, batches 1..4096: triton,
# jax, torch and the graph captures, beside the configuration's FLOP and traffic floor.
step bench-gpu 95 "$PYTHON" benchmarks/bench_gpu.py --seconds 0.5
# flash-linear-attention's delta-rule kernels (needs 'pip install diffmem[fla]'), compiled
# for the GPU: docs/fla.md rewritten into the log folder.
step fla 60 env -u TRITON_INTERPRET "$PYTHON" -m examples.fla.run_fla --device cuda \
    --dtype float32 bfloat16 --out "$LOGDIR/fla.md"
nvidia-smi > "$LOGDIR/nvidia-smi.txt" 2>&1

echo "logs: $LOGDIR" | tee -a "$SUMMARY"
exit "$FAILED"
