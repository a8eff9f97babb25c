"""The frozen reference as a backend (``--backend reference``).

Slow (one sequence at a time, numpy and autograd) but exact by definition: the
harness's own self-check, and the ground truth a third-party backend is compared with.
"""

from diffmem.models import bind

from .protocol import DTYPES, Result


class ReferenceBackend:
    float64_is_same_kernel = True   # the same numpy program in every dtype

    def __init__(self, dtype):
        self.dtype = dtype
        self.name = f"reference-cpu-{dtype}"

    def run(self, config, params, inputs, targets, mask, *, want_trace, want_grads):
        out = bind(config).run_reference(params, inputs, targets, mask, dtype=self.dtype,
                                         want_trace=want_trace, want_grads=want_grads)
        return Result(logits=out["logits"], loss=out["loss"], grads=out.get("grads"),
                      grad_inputs=out.get("grad_inputs"), trace=out.get("trace"))


def make_backend(device="cpu", dtype="float64"):
    if device != "cpu":
        raise ValueError(f"device: the reference backend runs on 'cpu' only, got {device!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES}, got {dtype!r}")
    return ReferenceBackend(dtype)
