"""What every family's frozen reference shares: numpy, float64, gradients by autograd.

``functions`` (stable sigmoid, softplus, softmax, the linear layer), ``controller``
(NTM.md's feedforward and LSTM controllers, also the stack family's), ``loss`` (the bit
vectors' cross-entropy), ``precision`` (the low-precision modes emulated), ``vjp``
(hand-written gradients for speed, tested against the plain form), ``validate`` (the
checks of user-supplied arrays).  Each family's own reference is in
``models/<family>/``: the NTM's is ``diffmem.models.ntm.reference``.
"""
