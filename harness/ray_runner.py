"""Running ``fuzz`` and ``calibrate`` tasks on a Ray cluster (``--ray ADDRESS``; 'local'
starts a one-machine cluster here).  Ray is an optional extra (``pip install
'diffmem[ray]'``): nothing else in diffmem imports it.

The tasks are the ones the local worker pool runs (``fuzz.fuzz_task``,
``calibrate.run_group``), generator functions yielding plain dicts; a Ray task runs one
to its end and returns the list.  On CUDA each task asks Ray for one GPU, so Ray runs
one task per GPU at a time (Ray sets ``CUDA_VISIBLE_DEVICES`` for it); on CPU one per
core.  What the pool adds and Ray does not: a crash or hang costs one case there, here a
task that kills its worker is retried by Ray and then raises (``RayTaskError``): the
campaign stops with that error.  The ``--timeout`` of one call applies inside the task
(``compare.call_backend``).
"""

from __future__ import annotations

from diffmem.usage import UsageError


def _ray():
    try:
        import ray
    except ImportError:
        raise UsageError("--ray: Ray is not installed; pip install 'diffmem[ray]'") from None
    return ray


def _run_to_end(fn, args, device):
    """A Ray task: the pool worker's environment (threads, JAX cache), then ``fn`` to its
    end.  Ray has set CUDA_VISIBLE_DEVICES to this task's GPU: it is device 0 here."""
    from .devices import apply_worker_environment
    apply_worker_environment(device, 0)
    return list(fn(*args))


class RayRunner:
    """Tasks on the Ray cluster at ``address`` ('local': a new one on this machine).
    ``jobs``: how many run at once (the cluster's GPUs on CUDA, else its CPUs)."""

    def __init__(self, address, device="cpu", timeout=None):
        ray = _ray()
        self.ray, self.device, self.timeout = ray, device, timeout or None
        self._owned = not ray.is_initialized()   # a connection this process made before stays
        try:
            if address == "local":
                ray.init(include_dashboard=False, log_to_driver=False,
                         ignore_reinit_error=True)
            else:
                ray.init(address=address, log_to_driver=False, ignore_reinit_error=True)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise UsageError(f"--ray {address}: cannot reach a Ray cluster there "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
        resources = ray.cluster_resources()
        gpu = device.startswith("cuda")
        self.jobs = max(1, int(resources.get("GPU" if gpu else "CPU", 1)))
        self._remote = ray.remote(num_gpus=1 if gpu else 0, num_cpus=0 if gpu else 1,
                                  max_retries=1)(_run_to_end)

    def map(self, fn, arglist) -> list:
        """``[list(fn(*args)) for args in arglist]``, the tasks run on the cluster."""
        return self.ray.get([self._remote.remote(fn, args, self.device) for args in arglist])

    def run(self, items, pairs, tolerance, precisions) -> list:
        """The fuzz runner's interface (``fuzz.LocalRunner.run``)."""
        from .fuzz import fuzz_task
        return self.map(fuzz_task, [(pairs, self.device, d, tolerance, self.timeout, precisions)
                                    for d in items])

    def close(self):
        if self._owned:
            self.ray.shutdown()
