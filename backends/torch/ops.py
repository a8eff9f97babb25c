"""The ops table ``xp`` that ``BatchedNTM`` runs on, for PyTorch tensors.

Each entry is one array operation under the name ``BatchedNTM`` uses; everything else
(``@``, ``.mT``, indexing, ``reshape``) is shared tensor syntax.  Made per device,
because index arrays and fresh zeros must live where the parameters live.
"""

import torch


class TorchOps:
    def __init__(self, device="cpu"):
        self.device = torch.device(device)

    def index_array(self, a):
        return torch.as_tensor(a, dtype=torch.long, device=self.device)

    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    sqrt = staticmethod(torch.sqrt)
    tanh = staticmethod(torch.tanh)
    sigmoid = staticmethod(torch.sigmoid)

    @staticmethod
    def softplus(z):
        # Exact stable softplus, log(1 + e^z) = logaddexp(z, 0), with gradient sigmoid(z)
        # everywhere.  Not torch.nn.functional.softplus: it returns z itself above a
        # threshold (20), an approximation the reference does not make.
        return torch.logaddexp(z, torch.zeros((), dtype=z.dtype, device=z.device))

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        if axis is None:
            return torch.sum(x)
        return torch.sum(x, dim=axis, keepdim=keepdims)

    @staticmethod
    def max(x, axis=None, keepdims=False):
        if axis is None:
            return torch.amax(x)
        return torch.amax(x, dim=axis, keepdim=keepdims)

    @staticmethod
    def prod(x, axis):
        # Plain products over the (small, static) axis: torch.prod's backward divides by
        # each factor, which loses accuracy near 0 and needs a slow path at exactly 0
        # (a one-hot weight meeting an erase of 1), the reference's own reason to loop.
        factors = torch.unbind(x, dim=axis)
        out = factors[0]
        for f in factors[1:]:
            out = out * f
        return out

    @staticmethod
    def concat(xs, axis=0):
        return torch.cat(list(xs), dim=axis)

    @staticmethod
    def stop_gradient(x):
        return x.detach()

    @staticmethod
    def broadcast_to(x, shape):
        return torch.broadcast_to(x, tuple(shape))

    @staticmethod
    def zeros_like_shape(ref, shape):
        return torch.zeros(tuple(shape), dtype=ref.dtype, device=ref.device)
