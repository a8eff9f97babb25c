#!/bin/sh
# Retrain the DNC's pretrained models (docs/results.md, "DNC: pretrained models"): the
# commands that made them; each model file's header also records its own exact command
# line.  Kept apart from train_all.sh (the NTM's five tasks) and train_stacks.sh.
#
#   sh pretrained/train_dnc.sh [OUT]      # OUT: the folder to write (default: pretrained/)
#
# `diffmem` must be on PATH (or set DIFFMEM=/path/to/diffmem).  JAX on one CPU core
# (OMP_NUM_THREADS=1, XLA_FLAGS=--xla_cpu_multi_thread_eigen=false).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
DIFFMEM=${DIFFMEM:-diffmem}
mkdir -p "$OUT"
COMMON="--backend jax --optimizer adam --lr 1e-3 --batch-size 16 --save-every 250 --log-every 250 --no-view --no-progress --overwrite"

# Copy through the DNC (the NTM's copy task: --family dnc), lengths 1..10, tested at 20.
# N = 48 rows: the model writes a fresh row at every step, recall included, so a length-20
# sequence (42 steps) must not run out of free rows (with N = 24 it did, and failed there).
$DIFFMEM train --task copy --family dnc --width 4 --N 48 --M 8 --units 64 --lo 1 --hi 10 --seed 1 --steps 3000 $COMMON --save-to "$OUT/dnc_copy.npz"

# Associative recall at the NTM's item size: items of 3 vectors of 4 bits, 2..6 items, tested
# on 7..8.  An LSTM controller (it holds the item just seen, so each row can carry the item
# before it beside its own vector), W = 16 for that code, two read heads.  The run was given
# --steps 40000 and stopped by hand (SIGTERM, which saves) at step 11104; --steps 11104
# replays it (a replay logged the stopped run's metrics exactly at each of its 19 logs, to
# step 4750, and was stopped there to spare the shared CPU).
# Feedforward controllers with W = 8 and one read head sat at ~2.8 bit errors per sequence
# (docs/results.md).  N = 48 for the same reason as copy.
$DIFFMEM train --task associative_recall --family dnc --width 4 --option item_len=3 --N 48 --M 16 --read-heads 2 --controller lstm --units 100 --lo 2 --hi 6 --seed 1 --steps 11104 --lr-halve-every 5000 $COMMON --save-to "$OUT/dnc_associative_recall.npz"
