#!/bin/sh
# The commands that made the pretrained models (each also recorded in its file's header).
# JAX is the engine: on CPU it trains these small models ~10x faster than torch.
set -e
mkdir -p /work/runs /work/runs2   # where the runs stopped by hand were written
# dynamic_ngrams uses order 3 and length 100 (the paper: order 6, length 200) to fit the
# shared CPU; resumed runs continue the file written by the line above them.
diffmem train --task copy --width 4 --N 24 --M 8 --units 100 --lo 1 --hi 10 --backend jax --optimizer adam --lr 1e-3 --batch-size 16 --seed 1 --steps 6000 --save-every 250 --log-every 500 --no-view --no-progress --save-to pretrained/copy.npz
# repeat_copy: trained to /work/runs2/rc_n_n40_14.npz, stopped (SIGTERM) at step 16522
# once it had converged on lengths 1..4, and copied here as repeat_copy.npz (N=40 so that
# memory holds whole sequences beyond the training range; count normalised, the default).
diffmem train --task repeat_copy --width 4 --option max_repeats=3 --N 40 --M 8 --units 100 --lo 1 --hi 4 --backend jax --optimizer adam --lr 1e-3 --batch-size 16 --seed 6 --steps 30000 --save-every 250 --log-every 250 --no-view --no-progress --save-to /work/runs2/rc_n_n40_14.npz
# associative_recall: trained to /work/runs2/ar_n40_26.npz, stopped (SIGTERM) at step 6361
# once it had converged on 2..6 items, and copied here as associative_recall.npz.  N=40:
# the write head moves one row per time step, so memory must hold the whole sequence.
diffmem train --task associative_recall --width 4 --option item_len=3 --N 40 --M 8 --units 100 --lo 2 --hi 6 --backend jax --optimizer adam --lr 1e-3 --batch-size 16 --seed 1 --steps 30000 --save-every 250 --log-every 250 --no-view --no-progress --save-to /work/runs2/ar_n40_26.npz
diffmem train --task dynamic_ngrams --option order=3 --N 16 --M 8 --controller lstm --units 100 --lo 100 --hi 100 --backend jax --optimizer adam --lr 1e-3 --batch-size 16 --seed 1 --steps 3000 --save-every 100 --log-every 100 --no-view --no-progress --save-to pretrained/dynamic_ngrams.npz
diffmem train --resume pretrained/dynamic_ngrams.npz --steps 5000 --lr-halve-every 1500 --save-every 100 --log-every 100 --no-view --no-progress
diffmem train --task priority_sort --width 4 --N 24 --M 8 --units 100 --lo 2 --hi 6 --backend jax --optimizer adam --lr 1e-3 --batch-size 16 --seed 1 --steps 8000 --save-every 250 --log-every 500 --no-view --no-progress --save-to pretrained/priority_sort.npz
