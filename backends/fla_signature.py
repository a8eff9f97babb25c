"""Check any kernel with flash-linear-attention's call signature, without packing code.

    diffmem check --family delta --backend 'fla-kernel:mypkg.ops:chunk_gated_delta_rule'
    diffmem check --family delta --backend 'fla-kernel:fla.ops.delta_rule:chunk_delta_rule+no-float32+no-beta-value'

The kernel is a PyTorch function called **by keyword** with fla's arguments and layout
(DELTA.md: q, k [B, T, H, K], v [B, T, HV, V], g [B, T, HV], beta [B, T, HV] or
[B, T, HV, V], scale, initial_state [N, HV, K, V], output_final_state, cu_seqlens,
use_qk_l2norm_in_kernel) returning ``(o, final_state)``.  The adapter unpacks diffmem's
``inputs`` into those tensors, calls the kernel, forms fla's test objective
``(o * do).sum() + (ht * dht).sum()`` per row, back-propagates with torch and packs ``o``,
the loss, ``dh0``, ``ht`` (under ``grads["dht"]``) and ``dq, dk, dv, dg, dbeta`` into a
``Result``.  A kernel returns no trace: the run is localised by tensor, not by stage.

What the adapter declares unsupported (counted apart, never passed), from the kernel's
signature: a gated case for a kernel without ``g``, cu_seqlens without ``cu_seqlens``,
the in-kernel norm without ``use_qk_l2norm_in_kernel``; from ``+flags`` after the kernel's
name, what the kernel cannot express: ``no-float64``, ``no-float32`` (or any precision),
``no-empty`` (empty sequences), ``no-beta-value`` (beta per value channel),
``no-grad-beta-value`` (per-value beta forward only: the gradients are not checked,
so the run is unsupported), ``min-dim=16`` (K and V at least 16).

Precisions: float64 / float32 pass every tensor in that dtype; bfloat16 / float16 pass
q, k, v in the format and g, beta, h0, dht float32 (fla's kernels load those as float32);
tf32 passes float32 with TF32 allowed on CUDA.  The kernel runs on ``--device``.
"""

from __future__ import annotations

import importlib
import inspect
import time

import numpy as np

from diffmem.backends.driver import check_dtype, check_run_args
from diffmem.backends.protocol import Result, Unsupported

FLAGS_HELP = ("no-<precision>, no-empty, no-beta-value, no-grad-beta-value, min-dim=N")


def load_kernel(spec: str):
    """'pkg.mod:fn' or 'pkg.mod.fn' -> (the function, its text)."""
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
    else:
        module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"fla-kernel: expected 'package.module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"fla-kernel {spec!r}: cannot import module {module_name!r}: "
                         f"{exc}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"fla-kernel {spec!r}: module {module_name!r} has no function "
                         f"{attr!r}")
    return fn


def parse_flags(flags):
    out = {"no": set(), "min_dim": 1}
    for flag in flags:
        if flag.startswith("min-dim="):
            value = flag.split("=", 1)[1]
            if not value.isdigit():
                raise ValueError(f"fla-kernel flag {flag!r}: expected min-dim=N")
            out["min_dim"] = int(value)
        elif flag.startswith("no-") and len(flag) > 3:
            out["no"].add(flag[3:])
        else:
            raise ValueError(f"fla-kernel flag {flag!r}: expected one of {FLAGS_HELP}")
    return out


class FlaSignatureBackend:
    def __init__(self, kernel, text, flags, device="cpu", dtype="float32"):
        import torch
        from diffmem.backends.torch.driver import torch_device
        self.torch = torch
        self.kernel, self.flags = kernel, flags
        self.dtype = check_dtype(dtype)
        self.device = torch_device(device)
        self.name = f"fla-kernel[{text}]-{device}-{dtype}"
        params = inspect.signature(kernel).parameters
        self.accepts = set(params)
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            self.accepts |= {"g", "cu_seqlens", "use_qk_l2norm_in_kernel", "initial_state",
                             "output_final_state"}     # **kwargs: takes them all

    def supports(self, config):
        from diffmem.models import bind
        cfg = bind(config).config
        if getattr(cfg, "model", None) not in ("deltanet", "gated_deltanet"):
            return f"a kernel with fla's signature runs delta/1 only, not {cfg.model!r}"
        no = self.flags["no"]
        needs = [("g", cfg.gated), ("cu_seqlens", cfg.varlen),
                 ("use_qk_l2norm_in_kernel", cfg.qk_l2norm),
                 ("initial_state", cfg.initial_state),
                 ("output_final_state", cfg.output_final_state)]
        for arg, needed in needs:
            if needed and arg not in self.accepts:
                return f"the kernel has no {arg!r} argument"
        if self.dtype in no:
            return f"declared: no {self.dtype}"
        if cfg.beta_per_value and ({"beta-value", "grad-beta-value"} & no):
            return "declared: no beta per value channel" + (
                " gradients" if "grad-beta-value" in no else "")
        if min(cfg.K, cfg.V) < self.flags["min_dim"]:
            return f"declared: K and V at least {self.flags['min_dim']}"
        if "empty" in no and cfg.varlen and any(
                a == b for a, b in zip(cfg.cu_seqlens, cfg.cu_seqlens[1:])):
            return "declared: no empty sequences"
        return True

    def _dtypes(self):
        t = self.torch
        fmt = {"float64": t.float64, "float32": t.float32, "tf32": t.float32,
               "bfloat16": t.bfloat16, "float16": t.float16}[self.dtype]
        side = t.float64 if self.dtype == "float64" else t.float32
        return fmt, side

    def run(self, config, params, inputs, targets, mask, *, want_trace, want_grads):
        t = self.torch
        model, params, inputs, targets, mask = check_run_args(
            config, params, inputs, targets, mask, self.dtype)
        cfg = model.config
        reason = self.supports(cfg)
        if reason is not True:
            raise Unsupported(reason)
        started = time.perf_counter()
        fmt, side = self._dtypes()
        B, T = inputs.shape[:2]
        from diffmem.models.delta.layout import input_blocks
        shapes = {"dq": (cfg.H, cfg.K), "dk": (cfg.H, cfg.K), "dv": (cfg.HV, cfg.V),
                  "dg": (cfg.HV,), "dbeta": (cfg.HV, cfg.V) if cfg.beta_per_value else (cfg.HV,)}
        leaves = {}
        for name, start, width in input_blocks(cfg):
            block = np.ascontiguousarray(inputs[..., start:start + width]).reshape(
                (B, T) + shapes[name])
            dtype = fmt if name in ("dq", "dk", "dv") else side
            leaves[name[1:]] = t.tensor(block, device=self.device, dtype=dtype,
                                        requires_grad=want_grads)
        h0 = None
        if cfg.initial_state:
            h0 = t.tensor(params["h0"], device=self.device, dtype=side, requires_grad=want_grads)
        kwargs = dict(q=leaves["q"], k=leaves["k"], v=leaves["v"], beta=leaves["beta"],
                      scale=cfg.scale)
        if "g" in self.accepts:
            kwargs["g"] = leaves["g"] if cfg.gated else t.zeros(
                (B, T, cfg.HV), device=self.device, dtype=side)
        optional = {"initial_state": h0, "output_final_state": cfg.output_final_state,
                    "cu_seqlens": None if not cfg.varlen else t.tensor(
                        cfg.cu_seqlens, device=self.device, dtype=t.long),
                    "use_qk_l2norm_in_kernel": cfg.qk_l2norm}
        kwargs.update({k: v for k, v in optional.items() if k in self.accepts})
        try:
            return self._call(cfg, kwargs, leaves, h0, params, targets, mask, B, T, side,
                              want_grads, started)
        except NotImplementedError as exc:
            # The kernel's own word that it lacks this path (fla 0.6.0's gated
            # fused-recurrent kernel has no backward): unsupported, never passed.
            raise Unsupported(f"the kernel raised NotImplementedError: {exc}") from exc

    def _call(self, cfg, kwargs, leaves, h0, params, targets, mask, B, T, side, want_grads,
              started):
        t = self.torch
        from diffmem.backends.torch.precision_modes import matmul_precision
        from diffmem.models.delta.layout import input_blocks
        with matmul_precision(self.dtype, self.device.type), t.set_grad_enabled(want_grads):
            o, ht = self.kernel(**kwargs)
            o = o.to(side)
            do = t.tensor(targets, device=self.device, dtype=side).reshape(o.shape)
            m = t.tensor(mask, device=self.device, dtype=side)
            loss = (m * (do * o).reshape(B, T, -1).sum(-1)).sum(-1)
            if cfg.output_final_state:
                dht = t.tensor(params["dht"], device=self.device, dtype=side)
                final = (dht * ht.to(side)).reshape(cfg.N, -1).sum(-1)
                loss = loss + (final if not cfg.varlen else final.sum().reshape(1))
            result = Result(logits=_np(o.reshape(B, T, -1), self.dtype),
                            loss=_np(loss, self.dtype))
            if want_grads:
                order = [n[1:] for n, _, _ in input_blocks(cfg)]
                wrt = [leaves[n] for n in order] + ([h0] if h0 is not None else [])
                grads = t.autograd.grad(loss.sum(), wrt, allow_unused=True)
                packed = [(_np(gr, self.dtype) if gr is not None else
                           np.zeros(tuple(x.shape), dtype=_out_dtype(self.dtype))).reshape(B, T, -1)
                          for gr, x in zip(grads[:len(order)], wrt)]
                result.grad_inputs = np.concatenate(packed, axis=-1)
                result.grads = {}
                if h0 is not None:
                    result.grads["h0"] = _np(grads[-1], self.dtype) if grads[-1] is not None \
                        else np.zeros(params["h0"].shape, dtype=_out_dtype(self.dtype))
                if cfg.output_final_state:
                    result.grads["dht"] = _np(ht, self.dtype)
        result.extras["run_s"] = time.perf_counter() - started
        return result


def _out_dtype(dtype):
    return "float64" if dtype == "float64" else "float32"


def _np(x, dtype):
    return x.detach().to("cpu").double().numpy().astype(_out_dtype(dtype))


def adapter(spec: str):
    """'pkg.mod:fn+flag+flag' -> a backend factory ``make_backend(device, dtype)`` (the
    registered backend ``fla-kernel`` takes the kernel as its argument)."""
    kernel_spec, *flags = str(spec).split("+")
    kernel = load_kernel(kernel_spec)
    parsed = parse_flags(flags)

    def make_backend(device="cpu", dtype="float32"):
        return FlaSignatureBackend(kernel, spec, parsed, device, dtype)
    make_backend.__name__ = "make_backend"
    return make_backend
