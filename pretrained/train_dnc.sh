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

# Associative recall, items of ONE 4-bit vector, 2..6 items, tested on 7..8.  The recorded
# run was given --steps 40000 and stopped by hand (SIGTERM, which saves) at step 13114, by
# when the learning rate had been halved five times; --steps 13114 replays it (not re-run
# to compare the parameters).  Items of 3 vectors (the NTM's setting; feedforward 100 and
# LSTM 64) and of 2 did not get below 2 bit errors per sequence beyond the training range
# in the time there was (docs/results.md).  N = 48 for the same reason as copy.
$DIFFMEM train --task associative_recall --family dnc --width 4 --option item_len=1 --N 48 --M 8 --units 100 --lo 2 --hi 6 --seed 1 --steps 13114 --lr-halve-every 2500 $COMMON --save-to "$OUT/dnc_associative_recall.npz"
