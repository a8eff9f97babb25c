"""my_kernel: a minimal third-party NTM backend, written from NTM.md alone.

Copy this package to start your own kernel's checks.  It is deliberately a separate
implementation (plain PyTorch, no diffmem model code): batch and heads are tensor axes,
time is a Python loop, gradients come from torch.autograd.  The only diffmem name it
uses is ``Result``, the container the harness reads.

Check it with one command (HARNESS.md section 5):

    pytest --pyargs diffmem.harness.conformance --diffmem-backend my_kernel:make_backend
    diffmem check --backend my_kernel:make_backend
"""

import numpy as np
import torch

from diffmem.backends import Result

DELTA = 1e-16   # NTM.md: inside the norm
EPS = 1e-16     # NTM.md: inside the log of sharpening
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def make_backend(device="cpu", dtype="float32"):
    return MyKernel(device, dtype)


def softplus(z):
    # Exact: torch.nn.functional.softplus returns z itself above 20, an e^-20 ~ 2e-9
    # relative error that a float64 check at 1e-9 would (rightly) report.
    return torch.logaddexp(z, torch.zeros((), dtype=z.dtype, device=z.device))


def split_heads(xi, cfg):
    """Interface [B, I] -> {"write": {field: [B, Wh, width]}, "read": {...}} (NTM.md step 2)."""
    M, S = cfg["memory_width"], len(cfg["shifts"])
    out, pos = {}, 0
    for kind, count in (("write", cfg["write_heads"]), ("read", cfg["read_heads"])):
        widths = [("key", M), ("beta", 1), ("gate", 1), ("shift", S), ("gamma", 1)]
        if kind == "write":
            widths += [("erase", M), ("add", M)]
        fields = {f: [] for f, _ in widths}
        for _ in range(count):
            for f, w in widths:
                fields[f].append(xi[:, pos:pos + w])
                pos += w
        out[kind] = {f: torch.stack(v, dim=1) for f, v in fields.items()}
    return out


def activate(raw):
    head = {"key": raw["key"], "beta": softplus(raw["beta"][..., 0]),
            "gate": torch.sigmoid(raw["gate"][..., 0]), "shift": torch.softmax(raw["shift"], -1),
            "gamma": 1.0 + softplus(raw["gamma"][..., 0])}
    if "erase" in raw:
        head["erase"], head["add"] = torch.sigmoid(raw["erase"]), torch.tanh(raw["add"])
    return head


def address(head, memory, w_prev, shifts):
    def norm(v):
        return torch.sqrt((v * v).sum(-1) + DELTA)
    K = torch.einsum("bhm,bnm->bhn", head["key"], memory) \
        / (norm(head["key"])[..., None] * norm(memory)[:, None, :])
    w_content = torch.softmax(head["beta"][..., None] * K, dim=-1)
    g = head["gate"][..., None]
    w_gated = g * w_content + (1 - g) * w_prev
    # roll by s: out[i] = in[i - s]; shifts that wrap onto the same row add up.
    w_shifted = sum(head["shift"][..., j, None] * torch.roll(w_gated, s, dims=-1)
                    for j, s in enumerate(shifts))
    weight = torch.softmax(head["gamma"][..., None] * torch.log(w_shifted + EPS), dim=-1)
    return {"w_content": w_content, "w_gated": w_gated, "w_shifted": w_shifted, "weight": weight}


def forward(cfg, p, x):
    """x [B, T, X] -> logits [B, T, Y], trace {name: [B, T, ...]}."""
    B, T = x.shape[:2]
    H, lstm = cfg["controller_size"], cfg["controller"] == "lstm"
    memory = p["init.memory"].expand(B, -1, -1)
    reads = p["init.read"].expand(B, -1, -1)
    w_write = torch.softmax(p["init.write_logits"], -1).expand(B, -1, -1)
    w_read = torch.softmax(p["init.read_logits"], -1).expand(B, -1, -1)
    h = cell = x.new_zeros(B, H)
    steps = []
    for t in range(T):
        rec = {}
        u = torch.cat([x[:, t], reads.reshape(B, -1)], dim=-1)
        if lstm:
            z = torch.cat([u, h], -1) @ p["controller.weight"].T + p["controller.bias"]
            i, f, g, o = z.split(H, dim=-1)
            cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(cell)
            rec["controller"], rec["controller_cell"] = h, cell
        else:
            h = torch.tanh(u @ p["controller.weight"].T + p["controller.bias"])
            rec["controller"] = h
        xi = h @ p["interface.weight"].T + p["interface.bias"]
        rec["interface"] = xi
        raw = split_heads(xi, cfg)
        write = activate(raw["write"])
        write.update(address(write, memory, w_write, cfg["shifts"]))
        keep = 1.0
        for k in range(write["weight"].shape[1]):   # all write heads at once (NTM.md step 5)
            keep = keep * (1 - write["weight"][:, k, :, None] * write["erase"][:, k, None, :])
        memory = memory * keep + torch.einsum("bhn,bhm->bnm", write["weight"], write["add"])
        read = activate(raw["read"])
        read.update(address(read, memory, w_read, cfg["shifts"]))
        reads = torch.einsum("bhn,bnm->bhm", read["weight"], memory)
        logits = torch.cat([h, reads.reshape(B, -1)], -1) @ p["output.weight"].T \
            + p["output.bias"]
        w_write, w_read = write["weight"], read["weight"]
        rec.update({f"write.{k}": v for k, v in write.items()})
        rec["memory"] = memory
        rec.update({f"read.{k}": v for k, v in read.items()})
        rec.update(reads=reads, logits=logits)
        steps.append(rec)
    trace = {k: torch.stack([s[k] for s in steps], dim=1) for k in steps[0]}
    return trace["logits"], trace


class MyKernel:
    # The same PyTorch code runs in every dtype, so its float64 run may check what
    # float32 cannot resolve; a kernel whose float64 path is another program leaves
    # this out (then those tensors are judged by the plausible-range bound alone).
    float64_is_same_kernel = True

    def __init__(self, device="cpu", dtype="float32"):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype: expected one of {sorted(_DTYPES)}, got {dtype!r}")
        self.device, self.dtype = torch.device(device), _DTYPES[dtype]
        self.name = f"my_kernel-{device}-{dtype}"

    def supports(self, config):
        # An NTM kernel: the other families' cases are reported unsupported, not errors.
        model = config.model if hasattr(config, "model") else dict(config).get("model")
        return model == "ntm" or f"my_kernel implements the NTM only, not {model!r}"

    def run(self, config, params, inputs, targets, mask, *, want_trace, want_grads):
        cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config)

        def tensor(a, grad=False):
            return torch.tensor(np.asarray(a), dtype=self.dtype, device=self.device,
                                requires_grad=grad)
        p = {k: tensor(v, want_grads) for k, v in params.items()}
        x, y, m = tensor(inputs, want_grads), tensor(targets), tensor(mask)
        with torch.set_grad_enabled(want_grads):
            logits, trace = forward(cfg, p, x)
            loss = (m * (softplus(logits) - y * logits).sum(-1)).sum(-1)
            result = Result(logits=logits.detach().cpu().numpy(),
                            loss=loss.detach().cpu().numpy())
            if want_grads:
                names = list(p)
                g = torch.autograd.grad(loss.sum(), [p[k] for k in names] + [x])
                result.grads = {k: gk.cpu().numpy() for k, gk in zip(names, g)}
                result.grad_inputs = g[-1].cpu().numpy()
        if want_trace:
            result.trace = {k: v.detach().cpu().numpy() for k, v in trace.items()}
        return result
