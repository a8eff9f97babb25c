"""The training loop: batches from a task, gradients from an engine, an optimizer step,
metrics, logs, saves, resume, and a save on Ctrl-C.

Everything a run needs is in ``settings`` (a plain dict, saved into the model file's
header as ``training``), so a saved model can be resumed and its command replayed.
The loss minimised is the mean over the batch of the per-sequence loss (the family's
spec: NTM.md, STACKS.md; nats).  Everything family-specific (sizes, metrics, views) comes
from the family's training hook, ``FAMILY.training``.
"""

import contextlib
import math
import shlex
import signal
import sys
import threading
import time

import numpy as np

from diffmem.models import bind

from . import data
from . import view as grids
from .engine import make_engine
from .modelfile import load_model, save_model
from .optim import make_optimizer

# Settings a resumed run takes from its model file; everything else may be given anew.
# The model's shape: the saved parameters fix it, so a resumed run can never change it:
# the task, its options and the family's size settings (``shape_settings``).
SHAPE_SETTINGS = ("task", "options")
# The run's identity: changing one mid-run makes a different experiment, so a resumed run
# changes them only when asked to (``override``): a new optimizer starts from a fresh
# state, a new seed restarts the data generator from that seed.
RUN_SETTINGS = ("optimizer", "seed", "batch_size")


def shape_settings(task, family=None):
    """The settings that fix a model of ``task``'s family: task, options, its sizes."""
    return SHAPE_SETTINGS + tuple(data.hook(task, family).SIZE_FLAGS)


def frozen_on_resume(task, family=None):
    return shape_settings(task, family) + RUN_SETTINGS


def size_keys():
    """Every family's size settings (a run keeps only its own family's)."""
    return tuple(data.size_flags())


def resume_conflicts(saved, settings):
    """[(key, given, saved)] for frozen settings given with a value other than the saved one.

    ``None`` means "not given"; task options are compared one by one (``{"width": 8}``
    given against ``{"width": 4, "item_len": 3}`` saved is a conflict on ``width``).
    """
    out = []
    for key in frozen_on_resume(saved["task"], saved.get("family")):
        given = settings.get(key)
        if key == "options":
            for name, value in sorted((given or {}).items()):
                if saved["options"].get(name) != value:
                    out.append((f"options.{name}", value, saved["options"].get(name)))
        elif given is not None and given != saved.get(key):
            out.append((key, given, saved.get(key)))
    return out


def merge_resumed(saved, settings, override=()):
    """A resumed run's settings: frozen ones from the file (unless overridden), the given
    ones (not None) for the rest, the saved ones where nothing was given."""
    keep = [k for k in frozen_on_resume(saved["task"], saved.get("family"))
            if k not in override]
    own = data.hook(saved["task"], saved.get("family")).SIZE_FLAGS
    merged = {k: v for k, v in settings.items() if k in own or k not in size_keys()}
    merged.update({k: saved[k] for k in keep})
    for k, v in saved.items():
        if merged.get(k) is None:
            merged[k] = v
    return merged


@contextlib.contextmanager
def deferred_interrupts():
    """Hold Ctrl-C and SIGTERM until the block is done, then deliver them.

    Committing a step is several assignments (parameters, optimizer state, counters, the
    data generator's state); a signal between two of them would save a state that is half
    before the step and half after it, and resuming from it would not be exact.  A second
    signal while held ends the process at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from diffmem.interrupts import exit_now
    pending = []
    signals = (signal.SIGINT, signal.SIGTERM)

    def hold(signum, frame):
        if pending:
            exit_now()
        pending.append(signum)
    previous = {sig: signal.signal(sig, hold) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if pending:
        signal.raise_signal(pending[0])


def model_config(settings):
    """The model's config from the run's settings, through its family's training hook."""
    hook = data.hook(settings["task"], settings.get("family"))
    return hook.model_config(settings["task"], settings["options"],
                             {k: settings[k] for k in hook.SIZE_FLAGS})


def grad_check(cfg, params, engine_grads, inputs, targets, mask):
    """Worst relative difference of the engine's gradients against the reference's.

    Per tensor: max |g_engine - g_ref| / max |g_ref| (the reference in float64, the
    engine's gradient of the batch-mean loss); returns (worst, tensor name).
    """
    ref = bind(cfg).run_reference(params, inputs, targets, mask, want_trace=False,
                                  want_grads=True)
    B = inputs.shape[0]
    worst, where = 0.0, None
    for name, g in ref["grads"].items():
        g = g / B
        scale = np.max(np.abs(g))
        diff = np.max(np.abs(engine_grads[name] - g))
        rel = diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)
        if not rel <= worst:  # NaN counts as the worst
            worst, where = rel, name
    return worst, where


def sequence_length(inputs, mask):
    """Steps up to the last one with an input or an expected answer (drops padding)."""
    used = np.nonzero((np.asarray(mask) > 0) | np.any(np.asarray(inputs) != 0, axis=-1))[0]
    return int(used[-1]) + 1 if used.size else inputs.shape[0]


def example_run(cfg, params, inputs, targets, mask, task, options):
    """One sequence (unbatched, padding dropped) through the reference with its trace:
    the ``run`` a family's ``text_view`` and ``picture`` draw."""
    T = sequence_length(inputs, mask)
    x, z, m = inputs[:T], targets[:T], mask[:T]
    out = bind(cfg).run_reference(params, x[None], z[None], m[None], want_trace=True,
                                  want_grads=False)
    return {"inputs": x, "targets": z, "mask": m, "logits": np.asarray(out["logits"])[0],
            "trace": {k: np.asarray(v)[0] for k, v in out["trace"].items()},
            "task": task, "options": options}


def metric_line(hook, metrics, sep="  "):
    """'bits/seq 1.2345  bit errors/seq 0.125' (the family's metrics after the bits)."""
    parts = [f"bits/seq {metrics.get('bits', float('nan')):.4f}"]
    parts += [f"{label} {metrics.get(key, float('nan')):{form}}"
              for key, label, form in hook.METRICS]
    return sep.join(parts)


class Trainer:
    """One training run.  ``resume``: a model file path or a loaded ``Model`` to continue;
    ``override``: names from RUN_SETTINGS whose values in ``settings`` replace the saved ones.

    The state that a save writes (parameters, optimizer, counters, metrics, the data
    generator) changes only in ``step``'s commit, all at once; an interrupt or error in
    the middle of a step leaves the state of the end of the previous step, and resuming
    from it redraws the same batch: a run stopped anywhere and resumed gives the same
    parameters as a run that never stopped.
    """

    def __init__(self, settings, resume=None, out=print, override=()):
        self.out = out
        if resume is not None:
            model = load_model(resume) if isinstance(resume, str) else resume
            saved = model.header["training"]
            settings = merge_resumed(saved, settings, override)
            self.steps, self.sequences = model.header["steps"], model.header["sequences"]
            self.params = model.params
            self.history = model.header.get("history", [])
            if "seed" in override and settings["seed"] != saved["seed"]:
                self.rng = np.random.default_rng(settings["seed"])
            else:
                self.rng = np.random.default_rng()
                self.rng.bit_generator.state = model.header["rng_state"]
            self.max_len = min(model.header.get("curriculum_hi", settings["hi"]), settings["hi"]) \
                if settings.get("curriculum") else settings["hi"]
            self.metrics = dict(model.header.get("metrics", {}))
            self._window = [tuple(w) for w in model.header.get("window", [])]
        else:
            self.steps = self.sequences = 0
            self.history = []
            self.rng = np.random.default_rng(settings["seed"])
            self.max_len = settings["lo"] if settings.get("curriculum") else settings["hi"]
            self.metrics = {}
            self._window = []
        self.rng_state = self.rng.bit_generator.state  # as of the last committed step
        self.settings = settings
        self.hook = data.hook(settings["task"], settings.get("family"))
        self.cfg = model_config(settings)
        if resume is None:
            self.params = bind(self.cfg).init_params(settings["seed"])
        self.engine = make_engine(settings["backend"], self.cfg, settings.get("dtype"))
        self.optimizer = make_optimizer(settings["optimizer"], self.params, settings["lr"],
                                        clip=settings["clip"])
        self.base_lr = self.optimizer.lr
        fresh_optimizer = "optimizer" in override and settings["optimizer"] != saved["optimizer"] \
            if resume is not None else True
        if resume is not None and model.optim and not fresh_optimizer:
            self.optimizer.load_state(model.optim)
        self.stopped = "running"  # then "completed", "interrupted at step N" or "failed ..."

    # ------------------------------------------------------------ one step
    def lr_now(self):
        lr, every = self.base_lr, self.settings.get("lr_halve_every")
        return lr * 0.5 ** (self.steps // every) if every else lr

    def step(self):
        """One optimizer step; returns its batch.  Nothing a save writes changes until the
        step's last statement (see the class docstring)."""
        s = self.settings
        inputs, targets, mask = data.batch(s["task"], self.rng, s["batch_size"], s["lo"],
                                           self.max_len, s["options"], s.get("family"))
        loss, logits, grads = self.engine.loss_and_grads(self.params, inputs, targets, mask)
        if not np.all(np.isfinite(loss)):
            raise FloatingPointError(f"step {self.steps + 1}: the loss is not finite ({loss}); "
                                     f"try a lower --lr")
        checked = {}
        if s.get("grad_check") and (self.steps % max(s["log_every"] or 1, 1) == 0):
            worst, where = grad_check(self.cfg, self.params, grads, inputs, targets, mask)
            self.out(f"grad-check step {self.steps + 1}: worst relative error {worst:.3g} "
                     f"in {where} ({self.engine.name} {self.engine.dtype_name} vs "
                     f"reference float64)")
            checked["grad_check"] = worst
        self.optimizer.lr = self.lr_now()
        proposal = self.optimizer.propose(self.params, grads)
        keys = [key for key, _, _ in self.hook.METRICS]
        scores = self.hook.metrics(logits, targets, mask, s["task"], s["options"],
                                   inputs=inputs)
        # A window entry: (loss, then the family's metrics in METRICS order).
        window = (self._window + [(float(loss.mean()),) + tuple(float(scores[k])
                                                                 for k in keys)])[-100:]
        means = {k: float(np.mean([w[i + 1] for w in window])) for i, k in enumerate(keys)}
        metrics = dict(self.metrics, loss=float(np.mean([w[0] for w in window])), **means,
                       lengths=[s["lo"], self.max_len], **checked)
        metrics["bits"] = metrics["loss"] / math.log(2.0)
        with deferred_interrupts():
            self.params = self.optimizer.commit(proposal)
            self.steps += 1
            self.sequences += inputs.shape[0]
            self._window, self.metrics = window, metrics
            self.rng_state = self.rng.bit_generator.state
        return inputs, targets, mask

    def advance_curriculum(self):
        """Lengthen the longest training sequence by one when the recent mean bits per
        sequence falls below the threshold (``--curriculum BITS``).  Run before each step:
        it depends only on the committed state, so a resumed run decides the same."""
        s = self.settings
        if s.get("curriculum") and self.max_len < s["hi"] and len(self._window) >= 50 \
                and self.metrics["bits"] < s["curriculum"]:
            with deferred_interrupts():
                self.max_len, self._window = self.max_len + 1, []
            self.out(f"curriculum: step {self.steps}, training lengths now "
                     f"{s['lo']}..{self.max_len}")

    # ------------------------------------------------------------ output
    def header(self):
        return {"config": self.cfg.to_dict(),
                "task": {"name": self.settings["task"], "options": self.settings["options"]},
                "training": self.settings, "steps": self.steps, "sequences": self.sequences,
                "metrics": self.metrics, "history": self.history,
                "rng_state": self.rng_state, "curriculum_hi": self.max_len,
                "window": [list(w) for w in self._window], "stopped": self.stopped}

    def save(self, path=None):
        path = path or self.settings["save_to"]
        save_model(path, self.header(), self.params, self.optimizer.state_arrays())
        return path

    def view(self, inputs, targets, mask):
        """Text view of the first sequence of a batch, through the reference."""
        run = example_run(self.cfg, self.params, inputs[0], targets[0], mask[0],
                          self.settings["task"], self.settings["options"])
        return self.hook.text_view(self.cfg, run, grids)

    # ------------------------------------------------------------ the loop
    def done(self):
        s = self.settings
        if s.get("sequences"):
            return self.sequences >= s["sequences"]
        return self.steps >= s["steps"]

    def run(self, progress=True):
        from tqdm import tqdm
        s = self.settings
        by_sequences = bool(s.get("sequences"))
        total = s["sequences"] if by_sequences else s["steps"]
        done_now = self.sequences if by_sequences else self.steps
        bar = tqdm(total=total, initial=done_now, disable=not progress, file=sys.stderr,
                   unit="seq" if by_sequences else "step", dynamic_ncols=True)
        write = bar.write if progress else self.out
        start = time.time()
        keys = [key for key, _, _ in self.hook.METRICS]
        try:
            while not self.done():
                self.advance_curriculum()
                # A step may compile (JAX): torn down half-way, its threads crash the
                # interpreter's exit; an interrupt waits for the step's end.
                with deferred_interrupts():
                    batch = self.step()
                bar.update(batch[0].shape[0] if by_sequences else 1)
                bar.set_postfix(loss=f"{self.metrics['loss']:.3f}",
                                bits=f"{self.metrics['bits']:.3f}",
                                **{key: f"{self.metrics[key]:.2f}" for key in keys},
                                len=f"{s['lo']}..{self.max_len}", refresh=False)
                if s.get("log_every") and self.steps % s["log_every"] == 0:
                    self.history.append({"steps": self.steps, "sequences": self.sequences,
                                         "bits": self.metrics["bits"],
                                         **{key: self.metrics[key] for key in keys},
                                         "seconds": round(time.time() - start, 2)})
                    write(f"step {self.steps}  sequences {self.sequences}  "
                          f"{metric_line(self.hook, self.metrics)}  "
                          f"{self.hook.knob_word(s['task'])} {s['lo']}..{self.max_len}  "
                          f"lr {self.optimizer.lr:.3g}")
                    if s.get("view", True):
                        write(self.view(*batch))
                if s.get("save_every") and self.steps % s["save_every"] == 0:
                    self.save()
        except KeyboardInterrupt:
            bar.close()
            self.rng.bit_generator.state = self.rng_state  # the batch in flight is redrawn
            self.stopped = f"interrupted at step {self.steps}"
            path = self.save()
            self.out(f"interrupted at step {self.steps}; saved {path}")
            raise
        except Exception as exc:
            bar.close()
            self.rng.bit_generator.state = self.rng_state
            self.stopped = f"failed at step {self.steps + 1}: {type(exc).__name__}"
            self._save_after_error(exc)
            raise
        bar.close()
        self.stopped = "completed"
        path = self.save()
        self.out(f"done: {self.steps} steps, {self.sequences} sequences in "
                 f"{time.time() - start:.1f} s; {metric_line(self.hook, self.metrics, ', ')}; "
                 f"saved {path}")
        return path

    def _save_after_error(self, exc):
        """Keep the work done before an error: the state after the last completed step."""
        from .modelfile import ModelSaveError
        if self.steps == 0 or isinstance(exc, ModelSaveError):   # saving is what failed
            return
        try:
            path = self.save()
        except Exception as save_exc:  # the original error is the one to report
            self.out(f"error at step {self.steps + 1}; the state after step {self.steps} "
                     f"could not be saved either ({save_exc})")
            return
        self.out(f"error at step {self.steps + 1} ({type(exc).__name__}: {exc}); saved the "
                 f"state after step {self.steps} to {path} (continue with --resume {path})")


def command_line(argv=None):
    """The exact command, for the model file's header."""
    argv = sys.argv[1:] if argv is None else argv
    return "diffmem " + shlex.join(argv) if argv and argv[0] == "train" else \
        "diffmem train " + shlex.join(argv)
