"""Backends that misbehave, written as a small module in a temporary folder and named by
import path, exactly as a kernel author would name theirs; and ``run_check``, which runs
``diffmem check`` in this process on them."""

import textwrap

import pytest

from diffmem.cli import main

SMALL = "ntm-random-ff-n1-init"   # a small bundled case (N = 1, B = 2, T = 10, X = 6)
ZERO_KEYS = "ntm-copy-ff-zero-keys-sharp"   # float32 cannot resolve grads/interface.*

BAD_BACKENDS = textwrap.dedent('''
    import numpy as np
    from diffmem.backends import Result
    from diffmem.backends.reference import make_backend as reference

    class Wrapped:
        """The reference, with its Result edited by ``edit``."""
        def __init__(self, edit, dtype):
            self.inner, self.edit, self.name = reference("cpu", dtype), edit, edit.__name__
        def run(self, *args, **kwargs):
            result = self.inner.run(*args, **kwargs)
            self.edit(result)
            return result

    def nan_logits(r): r.logits[1 % r.logits.shape[0], -1, 0] = np.nan
    def outputs_only(r): r.grads = r.grad_inputs = r.trace = None
    def no_trace(r): r.trace = None
    def wrong_shapes(r):
        if r.grad_inputs is not None:
            r.grad_inputs = r.grad_inputs.transpose(1, 0, 2).copy()
    def missing_keys(r):
        if r.grads is not None:
            del r.grads["output.bias"]
    def torch_like(r): r.loss = r.loss.tolist()

    def make(edit):
        return lambda device="cpu", dtype="float64": Wrapped(edit, dtype)
    nan = make(nan_logits)
    outputs = make(outputs_only)
    untraced = make(no_trace)
    shapes = make(wrong_shapes)
    keys = make(missing_keys)
    lists = make(torch_like)

    class Raises:
        name = "raises"
        def run(self, *args, **kwargs):
            return {}["no such key"]
    def raises(device="cpu", dtype="float64"):
        return Raises()
    def factory_fails(device="cpu", dtype="float64"):
        raise RuntimeError("no CUDA here")

    class Garbage32(Wrapped):
        """float32 only; garbage (-7 g + 1) in the gradients float32 cannot resolve."""
        def run(self, config, params, *args, **kwargs):
            result = self.inner.run(config, params, *args, **kwargs)
            if result.grads is not None:
                for k in ("interface.weight", "interface.bias"):
                    result.grads[k] = -7 * result.grads[k] + 1
            return result
    def garbage32(device="cpu", dtype="float32"):
        if dtype != "float32":
            raise ValueError("float32 only")
        return Garbage32(outputs_only, dtype)
    def garbage32_with_float64(device="cpu", dtype="float32"):
        # float64: the reference itself; float32: the garbage, under one backend name
        if dtype == "float64":
            return Wrapped(no_trace, dtype)
        return Garbage32(no_trace, dtype)

    class Memoriser:
        """Returns the stored float64 answers of the bundled fixture with these inputs."""
        name = "memoriser"
        def __init__(self):
            from diffmem.harness.fixture_io import list_cases
            self.answers = {c.inputs.tobytes(): c.expected["float64"] for c in list_cases()}
        def run(self, config, params, inputs, targets, mask, *, want_trace, want_grads):
            e = self.answers.get(np.asarray(inputs, np.float64).tobytes())
            if e is None:
                B, T = inputs.shape[:2]
                e = {"logits": np.zeros((B, T, config.output_size)), "loss": np.zeros(B),
                     "grads": {k: np.zeros_like(v) for k, v in params.items()},
                     "grad_inputs": np.zeros_like(inputs), "trace": None}
            return Result(e["logits"], e["loss"], e["grads"] if want_grads else None,
                          e["grad_inputs"] if want_grads else None,
                          e["trace"] if want_trace else None)
    def memoriser(device="cpu", dtype="float64"):
        return Memoriser()

    class UntracedPathBug(Wrapped):
        """Right with a trace, wrong logits on the production (untraced) call."""
        def run(self, *args, **kwargs):
            result = self.inner.run(*args, **kwargs)
            if not kwargs["want_trace"]:
                result.logits = result.logits + 1e-3
            return result
    def untraced_path_bug(device="cpu", dtype="float64"):
        return UntracedPathBug(no_trace, dtype)

    class Stateful(Wrapped):
        """Keeps a counter between calls and lets it leak into the loss."""
        calls = 0
        def run(self, *args, **kwargs):
            result = self.inner.run(*args, **kwargs)
            result.loss = result.loss + 1e-3 * self.calls
            self.calls += 1
            return result
    def stateful(device="cpu", dtype="float64"):
        return Stateful(no_trace, dtype)

    class Hangs:
        name = "hangs"
        def run(self, *args, **kwargs):
            import time
            time.sleep(3600)
    def hangs(device="cpu", dtype="float64"):
        return Hangs()

    class Crashes:
        """Dies inside run() as a broken kernel does: ``how`` is segv, exit or abort."""
        def __init__(self, how):
            self.how, self.name = how, f"crashes-{how}"
        def run(self, *args, **kwargs):
            import ctypes, os, sys
            if self.how == "segv":
                ctypes.string_at(0)       # reads address 0: SIGSEGV
            elif self.how == "exit":
                sys.exit(3)
            os.abort()
    def segv(device="cpu", dtype="float64"):
        return Crashes("segv")
    def exits(device="cpu", dtype="float64"):
        return Crashes("exit")
    def aborts(device="cpu", dtype="float64"):
        return Crashes("abort")

    SLOW_SEEN = []
    class SlowAfterFirst(Wrapped):
        """The reference on the first case it meets; on any other, touches the file named
        by DIFFMEM_TEST_MARK and sleeps (something to interrupt)."""
        def run(self, config, *args, **kwargs):
            import os, time
            first = SLOW_SEEN
            key = repr(config)
            if not first:
                first.append(key)
            if key != first[0]:
                open(os.environ["DIFFMEM_TEST_MARK"], "w").close()
                time.sleep(3600)
            return self.inner.run(config, *args, **kwargs)
    def slow_after_first(device="cpu", dtype="float64"):
        return SlowAfterFirst(no_trace, dtype)

    class OneConfig(Wrapped):
        """Supports the configuration of one bundled fixture and nothing else."""
        def supports(self, config):
            from diffmem.harness.fixture_io import case_path, load_case
            mine = load_case(case_path("ntm-random-ff-n1-init", None)).config
            return config == mine or "only the configuration of ntm-random-ff-n1-init"
    def one_config(device="cpu", dtype="float64"):
        return OneConfig(no_trace, dtype)

    class InPlace(Wrapped):
        """Right results, but it scales the caller's inputs in place."""
        def run(self, config, params, inputs, *args, **kwargs):
            result = self.inner.run(config, params, inputs, *args, **kwargs)
            inputs *= 0.5
            return result
    def in_place(device="cpu", dtype="float64"):
        return InPlace(no_trace, dtype)

    class Flaky(Wrapped):
        """One call in three is off (a race in a reduction, say)."""
        calls = 0
        def run(self, *args, **kwargs):
            result = self.inner.run(*args, **kwargs)
            self.calls += 1
            if self.calls % 3 == 0:
                result.logits = result.logits * (1 + 1e-3)
            return result
    def flaky(device="cpu", dtype="float64"):
        return Flaky(no_trace, dtype)

    def upcast(device="cpu", dtype="float32"):
        """Asked for float32, it computes in float64 (and returns float64 arrays)."""
        return Wrapped(no_trace, "float64")

    def loss_of_one(r): r.loss = r.loss[:1].copy()
    loss_shape = make(loss_of_one)

    class LstmOnly(Wrapped):
        def supports(self, config):
            return True if config.controller == "lstm" else "LSTM controllers only"
    def lstm_only(device="cpu", dtype="float64"):
        return LstmOnly(no_trace, dtype)
''')


@pytest.fixture(scope="module")
def bad_module(tmp_path_factory):
    folder = tmp_path_factory.mktemp("badbackends")
    (folder / "bad_backends.py").write_text(BAD_BACKENDS)
    return folder


@pytest.fixture
def run_check(bad_module, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(bad_module))

    def run(*argv):
        jobs = [] if "--jobs" in argv else ["--jobs", "1"]
        cases = [] if "--cases" in argv else ["--cases", SMALL]
        heldout = [] if "--heldout" in argv else ["--heldout", "0"]
        code = main(["check", "--no-progress", *cases, *heldout, *jobs, *argv])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


