"""Model files: round trip, atomic save, and a clear ValueError for every bad file."""

import json
import os

import numpy as np
import pytest

from diffmem.models.ntm.reference import NTMConfig, init_params
from diffmem.training.modelfile import FORMAT, load_model, save_model

CFG = NTMConfig(input_size=3, output_size=2, controller_size=5, memory_rows=4, memory_width=3)


def header():
    return {"config": CFG.to_dict(), "task": {"name": "copy", "options": {"width": 1}},
            "training": {"command": "diffmem train --task copy", "lo": 1, "hi": 2},
            "steps": 7, "sequences": 70, "metrics": {"bits": 1.5}}


@pytest.fixture
def saved(tmp_path):
    path = str(tmp_path / "m.npz")
    params = init_params(CFG, 3)
    save_model(path, header(), params, {"m/x": np.ones(2), "t": np.asarray(4)})
    return path, params


def test_round_trip(saved):
    path, params = saved
    model = load_model(path)
    assert model.config == CFG
    assert model.header["steps"] == 7 and model.header["training"]["command"].startswith("diffmem")
    assert model.header["format"] == FORMAT and model.header["spec_version"] == "ntm/1"
    assert sorted(model.params) == sorted(params)
    for k in params:
        np.testing.assert_array_equal(model.params[k], params[k])
    assert int(model.optim["t"]) == 4
    assert [f for f in os.listdir(os.path.dirname(path)) if f.startswith(".tmp")] == []


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_model(str(tmp_path / "nothing.npz"))


def test_truncated_file(saved, tmp_path):
    path, _ = saved
    data = open(path, "rb").read()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.npz.*not a readable"):
        load_model(str(cut))


def test_foreign_files(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="notes.npz"):
        load_model(str(text))
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(ValueError, match=r"other\.npz: no 'header'"):
        load_model(str(other))


def test_pickled_entry_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, header=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled.npz"):
        load_model(str(path))


def rewrite_header(path, change):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    h = json.loads(str(arrays["header"]))
    change(h)
    arrays["header"] = np.asarray(json.dumps(h))
    np.savez(path, **arrays)


@pytest.mark.parametrize("change, message", [
    (lambda h: h.update(spec_version="ntm/0"), "made for spec 'ntm/0'"),
    (lambda h: h.update(format="something/9"), "expected format"),
    (lambda h: h["config"].update(memory_rows=5), r"init\.memory.*expected shape"),
    (lambda h: h["config"].update(colour="red"), "unknown field"),
])
def test_bad_header(saved, change, message):
    path, _ = saved
    rewrite_header(path, change)
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_bad_json_header(saved):
    path, _ = saved
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["header"] = np.asarray("{not json")
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(path)


def test_failed_save_keeps_old_file(saved):
    path, params = saved
    before = open(path, "rb").read()
    with pytest.raises(ValueError):
        save_model(path, header(), dict(params, **{"output.bias": np.zeros(9)}))
    assert open(path, "rb").read() == before
    assert [f for f in os.listdir(os.path.dirname(path)) if f.startswith(".tmp")] == []
