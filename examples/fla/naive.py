"""Two plain PyTorch kernels with flash-linear-attention's call signature, written from
DELTA.md (the per-step recurrence, one sequence at a time): what a kernel author's first
reference looks like, and what ``diffmem check --backend fla-kernel:...`` runs in the
test suite without fla installed.

    diffmem check --family delta --backend 'fla-kernel:examples.fla.naive:gated_delta_rule' --dtype float64
"""

import torch


def _l2norm(x):
    return x / torch.sqrt((x * x).sum(-1, keepdim=True) + 1e-6)


def gated_delta_rule(q, k, v, g, beta, scale=None, initial_state=None,
                     output_final_state=False, cu_seqlens=None,
                     use_qk_l2norm_in_kernel=False):
    """q, k [B, T, H, K], v [B, T, HV, V], g [B, T, HV], beta [B, T, HV] or [B, T, HV, V];
    returns (o [B, T, HV, V], final state [N, HV, K, V] or None)."""
    B, T, H, K = q.shape
    HV, V = v.shape[2], v.shape[3]
    scale = K ** -0.5 if scale is None else scale
    if use_qk_l2norm_in_kernel:
        q, k = _l2norm(q), _l2norm(k)
    if cu_seqlens is None:
        pieces = [(b, 0, T) for b in range(B)]
    else:
        cu = [int(c) for c in cu_seqlens]
        pieces = [(0, cu[n], cu[n + 1]) for n in range(len(cu) - 1)]
    heads = torch.arange(HV) // (HV // H)
    outs = torch.zeros(B, T, HV, V, dtype=v.dtype, device=v.device).unbind(1)
    outs = [list(o.unbind(0)) for o in outs]          # [T][B] -> [HV, V]
    finals = []
    for n, (b, bos, eos) in enumerate(pieces):
        # the state in float32 (fla keeps it so), float64 for a float64 run
        work = torch.float64 if q.dtype == torch.float64 else torch.float32
        S = initial_state[n].to(work) if initial_state is not None else \
            torch.zeros(HV, K, V, dtype=work, device=q.device)
        for t in range(bos, eos):
            qt, kt = q[b, t, heads].to(S.dtype), k[b, t, heads].to(S.dtype)
            bt = beta[b, t].to(S.dtype)
            bt = bt[:, None] if bt.dim() == 1 else bt
            S = torch.exp(g[b, t].to(S.dtype))[:, None, None] * S
            d = bt * (v[b, t].to(S.dtype) - (S * kt[:, :, None]).sum(1))
            S = S + kt[:, :, None] * d[:, None, :]
            outs[t][b] = (scale * (S * qt[:, :, None]).sum(1)).to(v.dtype)
        finals.append(S)
    o = torch.stack([torch.stack(row, 0) for row in outs], 1)
    return o, (torch.stack(finals, 0) if output_final_state else None)


def delta_rule(q, k, v, beta, scale=None, initial_state=None, output_final_state=False,
               cu_seqlens=None, use_qk_l2norm_in_kernel=False):
    """DeltaNet: the gated rule with g = 0 (fla's ``*_delta_rule`` has no g)."""
    g = torch.zeros(v.shape[:3], dtype=torch.float32, device=v.device)
    return gated_delta_rule(q, k, v, g, beta, scale, initial_state, output_final_state,
                            cu_seqlens, use_qk_l2norm_in_kernel)


def gated_delta_rule_positional(q, k, v, g, gk=None, gv=None, beta=None, scale=None,
                                initial_state=None, output_final_state=False,
                                cu_seqlens=None, use_qk_l2norm_in_kernel=False):
    """fla 0.6.0's fused-recurrent signature shape: per-key and per-value gates between g
    and beta (beta defaults to ones when not given by keyword)."""
    beta = torch.ones(v.shape[:3], dtype=torch.float32) if beta is None else beta
    return gated_delta_rule(q, k, v, g, beta, scale, initial_state, output_final_state,
                            cu_seqlens, use_qk_l2norm_in_kernel)
