"""flash-linear-attention's own fused-recurrent DeltaNet kernel, unmodified, passes
diffmem's float32 check on CPU under Triton's interpreter (examples/fla).

Needs fla installed (an optional extra, never copied here):
    pip install 'diffmem[fla]'
The test skips without it.
"""

import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("fla", reason="flash-linear-attention is not installed: pip install "
                    "'diffmem[fla]'")

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_fused_recurrent_delta_rule_passes_float32_on_cpu():
    # A fresh process: TRITON_INTERPRET must be set before fla defines its kernels.
    env = dict(os.environ, TRITON_INTERPRET="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-m", "diffmem.cli", "check", "--family", "delta", "--backend",
         "fla-kernel:fla.ops.delta_rule:fused_recurrent_delta_rule", "--cases", "delta-t63",
         "--dtype", "float32", "--heldout", "0", "--jobs", "1", "--no-progress"],
        capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "1 passed" in out.stdout
