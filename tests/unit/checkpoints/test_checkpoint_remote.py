"""Checkpoints in an S3 bucket (moto's local server): `tb-sparsity inspect s3://...` reads
them through the plugin's logdir file layer with ranged reads, and says exactly what it says
of the same files on disk."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from bucket_emulators import S3Emulator
from conftest import ROOT

pytestmark = [pytest.mark.emulator, pytest.mark.torch, pytest.mark.tensorflow]

FILES = ["ao_bf16.safetensors", "torch_prune.pt", "keras3.keras", "tfmot.h5",
         "lightning/epoch=0-step=4.ckpt"]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    emulator = S3Emulator(str(tmp_path_factory.mktemp("moto")))
    yield emulator
    emulator.stop()


def inspect(paths, env=None):
    proc = subprocess.run(
        [sys.executable, "-m", "tb_sparsity_plugin", "inspect", "--format", "json",
         *paths], capture_output=True, text=True, cwd=ROOT, timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT, **(env or {})))
    return proc


def test_bucket_reads_equal_local_reads(checkpoint_files, s3, tmp_path):
    s3.create_bucket("ckpts")
    for name in FILES:
        with open(os.path.join(checkpoint_files, name), "rb") as f:
            s3.put("ckpts", name, f.read())
    # a sharded model folder: the index and its shards, as Hugging Face lays them out
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    shutil.copy(os.path.join(checkpoint_files, "ao_fp16.safetensors"), sharded / "model-1.safetensors")
    shutil.copy(os.path.join(checkpoint_files, "ao_f8.safetensors"), sharded / "model-2.safetensors")
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
        "0.weight": "model-1.safetensors", "2.weight": "model-1.safetensors",
        "conv24.weight": "model-2.safetensors"}}))
    for name in os.listdir(sharded):
        s3.put("ckpts", "sharded/" + name, (sharded / name).read_bytes())
    local = inspect([os.path.join(checkpoint_files, n) for n in FILES] + [str(sharded)])
    remote = inspect(["s3://ckpts/%s" % n for n in FILES] + ["s3://ckpts/sharded"], s3.env)
    assert local.returncode == 0, local.stderr
    assert remote.returncode == 0, remote.stderr
    want = json.loads(local.stdout)["checkpoints"]
    got = json.loads(remote.stdout)["checkpoints"]
    assert len(got) == len(FILES) + 1
    for a, b in zip(want, got):
        assert b["path"].startswith("s3://ckpts/")
        assert a["layers"] == b["layers"] and a["format"] == b["format"]
    assert [l["dtype"] for l in got[-1]["layers"]] == ["float16", "float16", "float8_e4m3fn"]
    missing = inspect(["s3://ckpts/nothing.safetensors"], s3.env)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr
