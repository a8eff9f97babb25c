"""Seeded scale-only kernel bugs: backends right on small cases, wrong at the sizes a GPU
kernel meets.  They are what ``diffmem fuzz`` and the held-out draws are tested against
(docs/fuzz.md); each wraps the bundled torch backend, so any precision it runs works.

- ``batch_chunk_32``: the batch is cut into chunks of 32 on a grid of ``max(1, B // 32)``
  programs, each masked at B: right for B <= 32 and for multiples of 32, and above that
  the partial last chunk is never computed (its logits, loss, trace and input gradients
  zero, its share of the parameter gradients missing).  Any family.
- ``step_wrap_64``: the step index is kept in 6 bits, so step t reads the input of step
  ``t mod 64`` (and its input gradient lands there): right up to 64 steps.  Any family
  whose inputs are per step.
- ``row_tile_64`` (NTM): content addressing loads memory rows in tiles of 64 on a grid of
  ``max(1, N // 64)`` tiles: right up to 64 rows and for multiples of 64, and above that
  the rows of the partial last tile score 0 instead of their cosine similarity.

    diffmem fuzz --family ntm --backend diffmem.backends.scale_bugs:batch_chunk_32
"""

from __future__ import annotations

import numpy as np

from diffmem.models.ntm.batched import BatchedNTM

CHUNK, PERIOD, TILE = 32, 64, 64


def _torch(device, dtype, model_cls=None):
    from diffmem.backends.protocol import resolve_factory
    return resolve_factory("torch")(device, dtype, model_cls=model_cls)


class _Wrapped:
    """A bug around a correct backend: same name scheme, same declarations."""

    def __init__(self, inner, label):
        self.inner = inner
        self.name = f"{inner.name}[{label}]"
        self.float64_is_same_kernel = getattr(inner, "float64_is_same_kernel", False)

    def supports(self, config):
        supports = getattr(self.inner, "supports", None)
        return supports(config) if callable(supports) else True


class BatchChunk(_Wrapped):
    def __init__(self, inner, chunk=CHUNK):
        super().__init__(inner, f"batch-chunk-{chunk}")
        self.chunk = chunk

    def run(self, config, params, inputs, targets, mask, **kw):
        B = inputs.shape[0]
        kept = max(1, B // self.chunk) * self.chunk if B > self.chunk else B
        mask = np.array(mask, copy=True)
        mask[kept:] = 0.0   # the dropped sequences add nothing to the summed gradients
        result = self.inner.run(config, params, inputs, targets, mask, **kw)
        for part in ("logits", "loss", "grad_inputs"):
            value = getattr(result, part)
            if value is not None:
                value = np.array(value, copy=True)
                value[kept:] = 0.0
                setattr(result, part, value)
        if result.trace:
            result.trace = {k: np.concatenate([v[:kept], np.zeros_like(v[kept:])])
                            for k, v in result.trace.items()}
        return result


class StepWrap(_Wrapped):
    def __init__(self, inner, period=PERIOD):
        super().__init__(inner, f"step-wrap-{period}")
        self.period = period

    def run(self, config, params, inputs, targets, mask, **kw):
        T = inputs.shape[1]
        read = np.arange(T) % self.period
        result = self.inner.run(config, params, np.ascontiguousarray(inputs[:, read]),
                                targets, mask, **kw)
        if result.grad_inputs is not None:
            folded = np.zeros_like(result.grad_inputs)
            np.add.at(folded, (slice(None), read), result.grad_inputs)
            result.grad_inputs = folded
        return result


class RowTile64(BatchedNTM):
    """Content addressing in tiles of 64 memory rows; the partial last tile scores 0."""

    def content_weights(self, key, beta, memory):
        similarity = self.cosine_similarity(key, memory)
        N = self.cfg.N
        kept = (N // TILE) * TILE if N > TILE else N
        if kept < N:
            similarity = self.xp.concat([similarity[..., :kept], 0.0 * similarity[..., kept:]],
                                        axis=-1)
        return self.softmax(beta[..., None] * similarity)


def batch_chunk_32(device="cpu", dtype="float64"):
    return BatchChunk(_torch(device, dtype))


def step_wrap_64(device="cpu", dtype="float64"):
    return StepWrap(_torch(device, dtype))


def row_tile_64(device="cpu", dtype="float64"):
    return _torch(device, dtype, model_cls=RowTile64)


SCALE_BUGS = {"batch_chunk_32": batch_chunk_32, "step_wrap_64": step_wrap_64,
              "row_tile_64": row_tile_64}
