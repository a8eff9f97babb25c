"""``diffmem train`` / ``diffmem test`` for the families beyond the NTM: the one task
registry, a few steps of each model on tiny sizes, exact resume, the metrics on hand-made
logits, the text views and pictures of hand-made runs, and one-line refusals."""

import re

import numpy as np
import pytest

from diffmem.cli import main
from diffmem.models import families, family_named
from diffmem.models.stack import StackConfig
from diffmem.models.stack import tasks as stack_tasks
from diffmem.models.stackrnn import StackRNNConfig
from diffmem.models.stackrnn import tasks as srnn_tasks
from diffmem.models.stack import training as stack_training
from diffmem.models.stackrnn import training as stackrnn_training
from diffmem.training import data
from diffmem.training import view as grids
from diffmem.training.loop import Trainer
from diffmem.training.modelfile import load_model, save_model

STACK = family_named("stack").training
SRNN = family_named("stackrnn").training
NTM = family_named("ntm").training

TINY_STACK = ["--option", "alphabet=3", "--lo", "1", "--hi", "2", "--units", "4",
              "--value-size", "3", "--batch-size", "4", "--no-progress"]
TINY_SRNN = ["--units", "4", "--stacks", "2", "--depth", "4", "--hi", "3", "--batch-size", "4",
             "--no-progress"]


def quiet(*_):
    pass


# ------------------------------------------------------------------ one registry

def test_every_task_belongs_to_exactly_one_family():
    # An op-level family (delta/1) has no training hook and no task.
    trained = {name: fam for name, fam in families().items() if fam.training is not None}
    assert set(trained) >= {"ntm", "stack", "stackrnn"}
    assert all(fam.tasks is None for name, fam in families().items() if name not in trained)
    # A family's own tasks are its alone; a shared task (the DNC's copy) stays its own
    # family's unless --family picks the other.
    seen = [t for fam in trained.values() for t in fam.training.TASKS
            if t not in fam.training.SHARED_TASKS]
    assert len(seen) == len(set(seen)) == len(data.task_names())
    for name, fam in trained.items():
        for task in fam.training.TASKS:
            own = task not in fam.training.SHARED_TASKS
            assert (data.family_of(task).name == name) == own
            assert data.family_of(task, name).name == name
            assert task in fam.tasks.names          # a task of the family's own registry
    assert data.family_of("sequence_copy").name == "stack"
    assert data.family_of("anbn").name == "stackrnn"
    with pytest.raises(ValueError, match="task: expected one of copy, .*anbn"):
        data.family_of("no_such_task")


# ------------------------------------------------------------------ training, each family

@pytest.mark.parametrize("structure", ["stack", "queue", "deque"])
def test_stack_family_trains_and_saves(tmp_path, structure):
    save = str(tmp_path / "m.npz")
    assert main(["train", "--task", "sequence_copy", "--structure", structure, *TINY_STACK,
                 "--steps", "3", "--backend", "torch", "--save-to", save]) == 0
    model = load_model(save)
    cfg = model.config
    assert (cfg.model, cfg.loss, cfg.X, cfg.Y, cfg.H, cfg.m) == (structure, "softmax", 5, 4,
                                                                  4, 3)
    assert cfg.controller == "lstm"         # the family's default: the paper's controller
    h = model.header
    assert h["steps"] == 3 and h["sequences"] == 12
    assert 0 <= h["metrics"]["coarse"] <= h["metrics"]["fine"] <= 1
    assert h["training"]["structure"] == structure and "N" not in h["training"]


def test_stack_family_on_the_jax_engine_by_default(tmp_path, capsys):
    save = str(tmp_path / "m.npz")
    assert main(["train", "--task", "sequence_reversal", "--structure", "deque",
                 "--controller", "feedforward", *TINY_STACK, "--steps", "2",
                 "--save-to", save]) == 0
    assert "jax engine" in capsys.readouterr().err
    assert load_model(save).header["training"]["backend"] == "jax"


def test_stackrnn_trains_and_saves(tmp_path):
    save = str(tmp_path / "m.npz")
    assert main(["train", "--task", "anbn", *TINY_SRNN, "--actions", "push,pop,noop",
                 "--steps", "3", "--backend", "torch", "--save-to", save]) == 0
    model = load_model(save)
    cfg = model.config
    assert (cfg.V, cfg.H, cfg.K, cfg.D, cfg.k, cfg.actions) == (2, 4, 2, 4, 2,
                                                                ("push", "pop", "noop"))
    assert 0 <= model.header["metrics"]["correct"] <= 1
    assert model.header["training"]["lo"] == 1 and model.header["training"]["hi"] == 3


def test_default_file_name_names_the_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--task", "sequence_copy", "--structure", "queue", *TINY_STACK,
                 "--steps", "1", "--backend", "torch"]) == 0
    assert (tmp_path / "queue-sequence_copy.npz").exists()


def stack_settings(tmp_path, **changes):
    s = {"task": "sequence_copy", "options": {"alphabet": 2}, "structure": "queue",
         "controller": "feedforward", "units": 8, "value_size": 4, "lo": 1, "hi": 2,
         "curriculum": None, "optimizer": "adam", "lr": 3e-2, "lr_halve_every": None,
         "clip": 10.0, "backend": "torch", "dtype": None, "batch_size": 8, "seed": 5,
         "steps": 15, "sequences": 0, "save_every": 0, "log_every": 0, "view": False,
         "grad_check": False, "save_to": str(tmp_path / "s.npz"), "command": "test"}
    s.update(changes)
    return s


def srnn_settings(tmp_path, **changes):
    s = dict(stack_settings(tmp_path), task="anbn", options={}, units=6, stacks=2, depth=5,
             top_k=2, actions="push,pop", hi=3)
    for key in ("structure", "controller", "value_size"):
        del s[key]
    s.update(changes)
    return s


def test_stack_training_lowers_the_loss(tmp_path):
    trainer = Trainer(stack_settings(tmp_path), out=quiet)
    x, z, m = data.batch("sequence_copy", np.random.default_rng(99), 32, 1, 2, {"alphabet": 2})
    run = family_named("stack").bind(trainer.cfg).run_reference

    def held_out():
        return run(trainer.params, x, z, m, want_trace=False,
                   want_grads=False)["loss"].mean()
    before = held_out()
    trainer.run(progress=False)
    assert held_out() < 0.8 * before


@pytest.mark.parametrize("make", [stack_settings, srnn_settings], ids=["queue", "stackrnn"])
def test_resume_continues_exactly(tmp_path, make):
    straight = Trainer(make(tmp_path, steps=4, save_to=str(tmp_path / "a.npz")), out=quiet)
    straight.run(progress=False)
    first = Trainer(make(tmp_path, steps=2, save_to=str(tmp_path / "b.npz")), out=quiet)
    first.run(progress=False)
    resumed = Trainer(dict(make(tmp_path, steps=4, save_to=str(tmp_path / "b.npz")),
                           task=None), resume=str(tmp_path / "b.npz"), out=quiet)
    resumed.run(progress=False)
    a, b = load_model(str(tmp_path / "a.npz")), load_model(str(tmp_path / "b.npz"))
    assert b.header["steps"] == 4
    for k in a.params:
        np.testing.assert_array_equal(b.params[k], a.params[k], err_msg=k)
    assert b.header["metrics"] == a.header["metrics"]


# ------------------------------------------------------------------ metrics by hand

def test_stack_metrics_on_hand_made_logits():
    # Two sequences, three target steps each (targets 0, 1, </s>=2 of a 2-symbol alphabet).
    targets = np.zeros((2, 4, 3))
    targets[:, 1:] = np.eye(3)
    mask = np.array([[0, 1, 1, 1]] * 2, dtype=float)
    logits = targets.copy()
    logits[1, 2] = [0, 0, 1]        # sequence 1 wrong at its 2nd target step
    logits[:, 0] = [5, 0, 0]        # the unmasked step does not count
    scores = STACK.metrics(logits, targets, mask, "sequence_copy", {})
    assert scores == pytest.approx({"coarse": 0.5, "fine": (1 + 1 / 3) / 2})


def test_stackrnn_metric_counts_only_deterministic_symbols():
    # a a b b | a: stream "aabba"; deterministic: the second b and the next a.
    inputs, targets, mask = srnn_tasks.anbn(np.random.default_rng(0), n=2)
    a, b = [1, 0], [0, 1]
    free_miss = np.array([a, a, b, a], float)      # wrong on the first b: not scored
    scored_miss = np.array([a, b, a, a], float)    # wrong on the second b: scored
    logits = np.stack([free_miss, scored_miss])
    batch = [np.stack([v, v]) for v in (inputs, targets, mask)]
    scores = SRNN.metrics(logits, batch[1], batch[2], "anbn", {}, inputs=batch[0])
    assert scores == {"correct": 0.5}


def test_ntm_metric_is_bit_errors_per_sequence():
    targets = np.array([[[1, 0], [0, 1]]], float)
    logits = np.array([[[2, 1], [-1, -3]]], float)   # bits 1 1 / 0 0: two wrong
    assert NTM.metrics(logits, targets, np.ones((1, 2)), "copy", {}) == {"errors": 2.0}


# ------------------------------------------------------------------ views of hand-made runs

def parse(view):
    """title -> {label: [cells]} of a text view."""
    out = {}
    for block in view.strip().split("\n\n"):
        lines = block.splitlines()
        if lines[0].startswith("=="):
            continue
        out[lines[0]] = {label.strip(): cells.split() for label, cells in
                         (line.split("|", 1) for line in lines[2:])}
    return out


def titled(view, prefix):
    found = [rows for title, rows in parse(view).items() if title.startswith(prefix)]
    assert len(found) == 1, (prefix, list(parse(view)))
    return found[0]


def stack_run():
    cfg = StackConfig(input_size=5, output_size=4, model="stack", loss="softmax")
    inputs, targets, mask = stack_tasks.encode([2], [2], alphabet=3)    # T = 4
    logits = np.zeros((4, 4))
    logits[2, 2] = logits[3, 0] = 1.0            # right, then wrong (0 for </s>)
    strength = np.array([[0.9, 0, 0, 0], [0.5, 0.2, 0, 0], [0.5, 0.2, 0.7, 0],
                         [0.1, 0.2, 0.7, 1.0]])
    trace = {"strength": strength, "push": np.array([0.9, 0.2, 0.7, 1.0]),
             "pop": np.array([0.0, 0.4, 0.0, 0.6])}
    return cfg, {"inputs": inputs, "targets": targets, "mask": mask, "logits": logits,
                 "trace": trace}


def test_stack_text_view_shows_the_strengths_put_in():
    cfg, run = stack_run()
    view = STACK.text_view(cfg, run, grids)
    symbols = titled(view, "symbols")
    assert symbols == {"in": ["<s>", "2", "|||", "2"], "target": [".", ".", "2", "</s>"],
                       "out": [".", ".", "2", "0"], "wrong": [".", ".", ".", "x"]}
    assert titled(view, "stack: push and pop") == {"push": ["0.9", "0.2", "0.7", "1.0"],
                                                   "pop": ["0.0", "0.4", "0.0", "0.6"]}
    strengths = titled(view, "stack: strengths")
    assert list(strengths) == ["r4", "r3", "r2", "r1"]      # the top row first
    assert strengths["r1"] == ["0.9", "0.5", "0.5", "0.1"]
    assert strengths["r3"] == [".", ".", "0.7", "0.7"]      # blank before its push
    assert strengths["r4"] == [".", ".", ".", "1.0"]


def test_deque_text_view_labels_both_ends():
    cfg = StackConfig(input_size=5, output_size=4, model="deque", loss="softmax")
    inputs, targets, mask = stack_tasks.encode([0], [0], alphabet=3)
    T = 4
    strength = np.zeros((T, 2 * T))
    # Step 1 (index 0) fills entries T-1 (bottom push) and T (top push); step 2 one more
    # on each side (layout.py).
    strength[0, 3:5] = [0.3, 0.8]
    strength[1, 2:6] = [0.6, 0.2, 0.7, 0.9]
    ends = {f"{a}.{e}": np.full(T, 0.1 * i) for i, (a, e) in
            enumerate([(a, e) for a in ("push", "pop") for e in ("top", "bottom")])}
    run = {"inputs": inputs, "targets": targets, "mask": mask, "logits": np.zeros((T, 4)),
           "trace": {"strength": strength, **ends}}
    view = STACK.text_view(cfg, run, grids)
    rows = titled(view, "deque: strengths")
    assert list(rows)[:4] == ["t4", "t3", "t2", "t1"] and list(rows)[-1] == "b4"
    assert rows["t1"][:2] == ["0.8", "0.7"] and rows["b1"][:2] == ["0.3", "0.2"]
    assert rows["t2"][:2] == [".", "0.9"] and rows["b2"][:2] == [".", "0.6"]
    assert titled(view, "deque: push and pop")["pop.bottom"] == ["0.3"] * 4


def test_long_stack_view_shows_only_rows_pushed_so_far():
    cfg = StackConfig(input_size=5, output_size=4, model="stack", loss="softmax")
    T = 25
    strength = np.tril(np.full((T, T), 0.5))
    run = {"inputs": np.eye(5)[np.zeros(T, int)], "targets": np.zeros((T, 4)),
           "mask": np.zeros(T), "logits": np.zeros((T, 4)),
           "trace": {"strength": strength, "push": np.zeros(T), "pop": np.zeros(T)}}
    view = STACK.text_view(cfg, run, grids)
    first, second = view.split("== steps 20..24 of 25 ==")
    labels = lambda text: re.findall(r"^\s*(r\d+) \|", text, re.M)   # noqa: E731
    assert labels(first) == [f"r{i}" for i in range(20, 0, -1)]
    assert labels(second) == [f"r{i}" for i in range(25, 0, -1)]
    assert max(len(line) for line in view.splitlines()) <= 120


def srnn_run():
    cfg = StackRNNConfig(alphabet_size=2, hidden_size=3, stacks=2, depth=5, top_k=2)
    inputs, targets, mask = srnn_tasks.anbn(np.random.default_rng(0), n=2)   # a a b b -> a
    T = 4
    stack = np.full((T, 2, 5), -1.0)
    stack[:, 0, 0] = [0.1, 0.2, 0.3, 0.4]
    stack[1:, 0, 1] = [0.1, 0.2, 0.3]
    stack[3, 1, 3] = 0.5                            # stack 1 used down to row 3
    action = np.zeros((T, 2, 2))
    action[:, :, 0], action[:, :, 1] = 0.7, 0.3
    logits = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], float)   # wrong on the final a
    return cfg, {"inputs": inputs, "targets": targets, "mask": mask, "logits": logits,
                 "trace": {"stack": stack, "action": action,
                           "push_value": np.full((T, 2), 0.6)},
                 "task": "anbn", "options": {}}


def test_stackrnn_text_view_shows_the_top_rows_and_actions():
    cfg, run = srnn_run()
    view = SRNN.text_view(cfg, run, grids)
    symbols = titled(view, "symbols")
    assert symbols["in"] == ["a", "a", "b", "b"]
    assert symbols["target"] == ["a", "b", "b*", "a*"]
    assert symbols["wrong"] == [".", ".", ".", "x"]
    top0 = titled(view, "stack 0: top 2 of 5 rows")
    assert top0 == {"row0": ["0.1", "0.2", "0.3", "0.4"], "row1": ["-1.0", "0.1", "0.2", "0.3"]}
    top1 = titled(view, "stack 1: top 4 of 5 rows")
    assert top1["row3"] == ["-1.0", "-1.0", "-1.0", "0.5"]
    assert titled(view, "stack 1: actions") == {"push": ["0.7"] * 4, "pop": ["0.3"] * 4,
                                                 "value": ["0.6"] * 4}


def test_stack_picture_draws_the_strengths(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    cfg, run = stack_run()
    fig = stack_training.figure(cfg, run)
    image = fig.axes[0].get_images()[0].get_array()
    # Drawn bottom row first: row 1's strengths on image row 0, nothing before a push.
    expected = run["trace"]["strength"].T.copy()
    expected[np.triu_indices(4, 1)[::-1]] = np.nan
    np.testing.assert_array_equal(np.ma.filled(image.astype(float), np.nan), expected)
    plotted = next(ax for ax in fig.axes if ax.get_lines())
    lines = {line.get_label(): line.get_ydata() for line in plotted.get_lines()}
    np.testing.assert_array_equal(lines["pop"], run["trace"]["pop"])
    plt.close(fig)
    path = STACK.picture(cfg, run, str(tmp_path / "s.png"), title="t")
    assert open(path, "rb").read(4) == b"\x89PNG"


def test_stackrnn_picture_draws_each_stack(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    cfg, run = srnn_run()
    fig = stackrnn_training.figure(cfg, run)
    images = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    assert len(images) == 2
    np.testing.assert_array_equal(images[1], run["trace"]["stack"][:, 1, :4].T)
    plt.close(fig)
    path = SRNN.picture(cfg, run, str(tmp_path / "s.svg"))
    assert "<svg" in open(path).read(2000)


# ------------------------------------------------------------------ diffmem test

def saved(tmp_path, cfg, task, options, lo, hi, name="m.npz"):
    fam = family_named("stackrnn" if cfg.model == "stackrnn" else "stack")
    path = str(tmp_path / name)
    save_model(path, {"config": cfg.to_dict(), "task": {"name": task, "options": options},
                      "training": {"lo": lo, "hi": hi, "command": "by hand"}, "steps": 0,
                      "sequences": 0, "metrics": {}}, fam.bind(cfg).init_params(3))
    return path


def test_test_reports_the_queue_accuracy_beyond_its_training_lengths(tmp_path, capsys):
    cfg = StackConfig(input_size=4, output_size=3, controller_size=5, value_size=3,
                      model="queue", loss="softmax")
    path = saved(tmp_path, cfg, "sequence_copy", {"alphabet": 2}, 1, 2)
    assert main(["test", "--model", path, "--lo", "3", "--hi", "4", "--batch-size", "5",
                 "--seed", "7", "--plot", str(tmp_path / "q.png")]) == 0
    out = capsys.readouterr().out
    # Independently: the same batch, the reference, the paper's scores.
    x, z, m, _ = stack_tasks.make_batch("sequence_copy", np.random.default_rng(7), 5, 3, 4,
                                        alphabet=2)
    logits = family_named("stack").bind(cfg).run_reference(
        load_model(path).params, x, z, m, want_trace=False, want_grads=False)["logits"]
    coarse, fine = stack_tasks.coarse(logits, z, m), stack_tasks.fine(logits, z, m)
    assert f"test lengths 3..4, 5 sequences" in out
    assert f"coarse accuracy {coarse:.3f}, fine accuracy {fine:.3f}" in out
    assert "queue: strengths s_t" in out and (tmp_path / "q.png").exists()


def test_test_reports_the_stackrnn_score(tmp_path, capsys):
    cfg = StackRNNConfig(alphabet_size=2, hidden_size=3, stacks=1, depth=4)
    path = saved(tmp_path, cfg, "anbn", {}, 1, 3)
    assert main(["test", "--model", path, "--lo", "6", "--hi", "6", "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"test n 6\.\.6, 2 sequences: bits/seq [0-9.]+, sequences right "
                     r"[01]\.\d{3}", out), out
    assert "stack 0: top" in out


# ------------------------------------------------------------------ refusals

def one_line_error(capsys, argv, command):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"diffmem {command}: "), err
    for internal in ("StackConfig", "StackRNNConfig", "top_k", "value_size", "Traceback"):
        assert internal not in err[0], err
    return err[0]


@pytest.mark.parametrize("flags, named", [
    (["--task", "anbn", "--N", "5"], "--N: not a size of the stackrnn family"),
    (["--task", "sequence_copy", "--stacks", "2"], "--stacks: not a size of the stack family"),
    (["--task", "copy", "--structure", "queue"], "--structure: not a size of the ntm family"),
    (["--task", "sequence_copy", "--structure", "tree"], "--structure tree: expected one of"),
    (["--task", "sequence_copy", "--value-size", "0"], "--value-size 0"),
    (["--task", "sequence_copy", "--width", "4"], "--width: sequence_copy has no option"),
    (["--task", "sequence_copy", "--option", "alphabet=0"], "--option alphabet=0"),
    (["--task", "bigram_flip", "--lo", "3", "--hi", "3"], "--lo 3 --hi 3"),
    (["--task", "anbn", "--top-k", "5", "--depth", "4"], "--top-k 5: expected at most --depth"),
    (["--task", "anbn", "--depth", "1"], "--depth 1"),
    (["--task", "anbn", "--actions", "push"], "--actions push: expected push,pop or"),
    (["--task", "anbn", "--stacks", "0"], "--stacks 0"),
    (["--task", "anbmcnm", "--lo", "1"], "--lo 1: anbmcnm's n"),
    (["--task", "memorisation", "--option", "k=12"], "--option k=12"),
    (["--task", "anbn", "--option", "n=3"], "--option n"),
])
def test_train_bad_flags(tmp_path, capsys, flags, named):
    save = tmp_path / "m.npz"
    line = one_line_error(capsys, ["train", *flags, "--steps", "1", "--save-to", str(save)],
                          "train")
    assert named in line
    assert not save.exists()


def test_bigram_flip_takes_a_range_with_odd_ends(tmp_path):
    assert main(["train", "--task", "bigram_flip", *TINY_STACK[:2], "--lo", "3", "--hi", "4",
                 "--units", "3", "--value-size", "2", "--batch-size", "2", "--steps", "1",
                 "--backend", "torch", "--no-progress",
                 "--save-to", str(tmp_path / "b.npz")]) == 0


@pytest.fixture
def queue_model(tmp_path):
    save = str(tmp_path / "q.npz")
    assert main(["train", "--task", "sequence_copy", "--structure", "queue", *TINY_STACK,
                 "--steps", "1", "--backend", "torch", "--save-to", save]) == 0
    return save


@pytest.mark.parametrize("flags, named", [
    (["--structure", "stack"], "--structure stack (saved: queue)"),
    (["--value-size", "5"], "--value-size 5 (saved: 3)"),
    (["--N", "5"], "--N: not a size of the stack family"),
])
def test_resume_refuses_another_model(queue_model, capsys, flags, named):
    before = open(queue_model, "rb").read()
    line = one_line_error(capsys, ["train", "--resume", queue_model, "--steps", "2", *flags],
                          "train")
    assert named in line
    assert open(queue_model, "rb").read() == before


def test_test_bad_range_for_the_task(tmp_path, capsys):
    cfg = StackConfig(input_size=4, output_size=3, controller_size=3, value_size=2,
                      model="stack", loss="softmax")
    path = saved(tmp_path, cfg, "bigram_flip", {"alphabet": 2}, 2, 4)
    assert "--lo 5 --hi 5" in one_line_error(
        capsys, ["test", "--model", path, "--lo", "5", "--hi", "5"], "test")
    cfg = StackRNNConfig(alphabet_size=3, hidden_size=3, depth=4)
    path = saved(tmp_path, cfg, "anbmcnm", {}, 2, 4, name="r.npz")
    assert "--lo 1" in one_line_error(
        capsys, ["test", "--model", path, "--lo", "1", "--hi", "3"], "test")
