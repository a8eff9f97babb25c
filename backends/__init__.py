"""Backends: the bundled JAX and PyTorch drivers, which run any family's batched form, the
Triton NTM kernels, the reference as a backend, and the loader that finds any backend by
name or import path."""

from .protocol import Result, Unsupported, load_backend, registered_backends, resolve_factory

__all__ = ["Result", "Unsupported", "load_backend", "registered_backends", "resolve_factory"]
