"""Bad checkpoints: `tb-sparsity inspect` exits 2 with one line on stderr, never a traceback,
and a pickle that would run code is refused before anything in it runs.

The files are made here byte by byte, or with the safetensors library (NumPy, no torch); the
torch-format ones are zips laid out as torch.save lays them out.
"""

import argparse
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from safetensors.numpy import save_file

from tb_sparsity_plugin.cli import main as cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def refused(capsys, *argv):
    """Run inspect; assert exit 2 and one clean line on stderr; return that line."""
    code = cli.main(["inspect", *argv])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tb-sparsity: error: ") and "Traceback" not in err
    assert out == ""
    return lines[0]


def good_safetensors(path):
    save_file({"fc.weight": np.arange(64, dtype=np.float32).reshape(8, 8)}, str(path))
    return path


def torch_zip(path, obj, storages=None):
    """A zip laid out as torch.save writes it, holding `obj` pickled (protocol 2)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(obj, protocol=2))
        z.writestr("archive/byteorder", "little")
        for key, data in (storages or {}).items():
            z.writestr("archive/data/%s" % key, data)
    return path


class RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch %s" % self.marker,))


class Evaluates:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, ("open(%r, 'w').close()" % self.marker,))


def test_missing_path(capsys, tmp_path):
    assert "does not exist" in refused(capsys, str(tmp_path / "nope.safetensors"))


def test_truncated_safetensors(capsys, tmp_path):
    path = good_safetensors(tmp_path / "m.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    assert "past the end" in refused(capsys, str(path))
    path.write_bytes(data[:20])  # inside the header
    assert "truncated" in refused(capsys, str(path))
    path.write_bytes(data[:5])
    assert "not a checkpoint" in refused(capsys, str(path))


def test_huge_header_length_is_refused_without_reading_it(capsys, tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 1 << 62) + b'{"a": 1}')
    assert "over the 100 MB cap" in refused(capsys, str(path))
    path.write_bytes(struct.pack("<Q", 200 * 1000 * 1000) + b"{" + b" " * 100)
    assert "over the 100 MB cap" in refused(capsys, str(path))


def test_offsets_past_the_end_and_lying_sizes(capsys, tmp_path):
    def write(entry):
        header = json.dumps({"w.weight": entry}).encode()
        path = tmp_path / "bad.safetensors"
        path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 64)
        return str(path)

    line = refused(capsys, write({"dtype": "F32", "shape": [4, 4],
                                  "data_offsets": [0, 1 << 40]}))
    assert "past the end" in line
    line = refused(capsys, write({"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 32]}))
    assert "needs 64" in line
    line = refused(capsys, write({"dtype": "F32", "shape": [4, "x"], "data_offsets": [0, 0]}))
    assert "malformed" in line
    header = b'{"w.weight": '
    (tmp_path / "cut.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    assert "not valid JSON" in refused(capsys, str(tmp_path / "cut.safetensors"))
    line = refused(capsys, write(5))
    assert "malformed" in line


def test_shard_index_cannot_point_elsewhere(capsys, tmp_path):
    good_safetensors(tmp_path / "secret.safetensors")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"fc.weight": "../secret.safetensors"}}))
    assert "next to the index" in refused(capsys, str(folder))
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"fc.weight": "model-00001.safetensors"}}))
    assert "does not exist" in refused(capsys, str(folder))


@pytest.mark.parametrize("evil", [RunsCode, Evaluates])
def test_a_pickle_that_runs_code_is_refused_and_nothing_runs(capsys, tmp_path, evil):
    marker = tmp_path / "ran"
    plain = torch_zip(tmp_path / "evil.pt", evil(str(marker)))
    # ... also when hidden in a Lightning-like checkpoint beside plain data
    nested = torch_zip(tmp_path / "evil.ckpt", {"epoch": 1, "state_dict": {},
                                                "callbacks": {"x": [evil(str(marker))]}})
    for path in (plain, nested):
        line = refused(capsys, str(path))
        assert "refused" in line and ("posix.system" in line or "builtins.eval" in line)
        assert not marker.exists()


def test_the_refusal_holds_in_a_fresh_process(tmp_path):
    marker = tmp_path / "ran"
    path = torch_zip(tmp_path / "evil.bin", RunsCode(str(marker)))
    proc = subprocess.run([sys.executable, "-m", "tb_sparsity_plugin", "inspect",
                           str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "refused" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()


def test_data_only_classes_become_placeholders(capsys, tmp_path):
    """A Namespace of hyper-parameters (older Lightning) does not stop the state dict from
    being read; nothing of it is constructed."""
    weights = np.array([[1, 1, 0, 2], [3, 0, 0, -0.0]], np.float32)
    data = io.BytesIO()
    TorchLikePickler(data, protocol=2).dump({
        "hyper_parameters": argparse.Namespace(lr=0.1),
        "state_dict": {"fc.weight": FakeTensor()}})
    path = tmp_path / "old.ckpt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data.getvalue())
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", weights.tobytes())
    assert cli.main(["inspect", str(path), "--format", "json"]) == 0
    [layer] = json.loads(capsys.readouterr()[0])["checkpoints"][0]["layers"]
    assert layer["sparsity"] == 4 / 8 and layer["n_m_compliance"] == 0.5
    assert layer["first_n_m_break"] == {"row": 0, "input": 0, "nonzeros": 3}


class FakeStorageType:
    """Stands for torch.FloatStorage in the pickle."""


class FakeStorage:
    pid = ("storage", FakeStorageType, "0", "cpu", 8)


def fake_rebuild():
    """Stands for torch._utils._rebuild_tensor_v2 in the pickle."""


class FakeTensor:
    """Pickles as torch.save pickles a float32 [2, 4] tensor."""

    def __reduce__(self):
        return (fake_rebuild, (FakeStorage(), 0, (2, 4), (4, 1), False, {}))


class TorchLikePickler(pickle._Pickler):
    """Writes torch's globals by name (torch is not imported here) and storages as
    persistent ids, as torch.save does."""

    NAMES = {FakeStorageType: ("torch", "FloatStorage"),
             fake_rebuild: ("torch._utils", "_rebuild_tensor_v2")}

    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, FakeStorage) else None

    def save(self, obj, save_persistent_id=True):
        for stand_in, (module, name) in self.NAMES.items():
            if obj is stand_in:
                self.write(pickle.GLOBAL + ("%s\n%s\n" % (module, name)).encode())
                return
        super().save(obj, save_persistent_id)


def test_a_broadcast_view_bigger_than_its_storage_is_refused(capsys, tmp_path):
    """A tensor of 10^12 elements over an 8-element storage (stride 0) would take terabytes
    to materialise; it is refused instead."""
    data = io.BytesIO()
    TorchLikePickler(data, protocol=2).dump({"fc.weight": HugeView()})
    path = tmp_path / "huge.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data.getvalue())
        z.writestr("archive/data/0", np.ones(8, np.float32).tobytes())
    assert "broadcast view" in refused(capsys, str(path))


class HugeView:
    def __reduce__(self):
        return (fake_rebuild, (FakeStorage(), 0, (10**6, 10**6), (0, 0), False, {}))


def test_an_hdf5_bomb_is_refused(capsys, tmp_path):
    """A gzip-compressed variable of 4 GB that takes no space on disk."""
    import h5py

    path = tmp_path / "bomb.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/dense/vars/0", shape=(1 << 15, 1 << 15), dtype="f4",
                         compression="gzip", chunks=(256, 256))
    assert "inflates" in refused(capsys, str(path))


@pytest.mark.parametrize("content, words", [
    (b"", "not a checkpoint"),
    (b"just some text, not weights\n" * 10, "not a checkpoint"),
    (pickle.dumps({"a": 1}, protocol=2), "bare pickle"),
    (b"\x89HDF\r\n\x1a\n" + b"\0" * 200, "HDF5"),
])
def test_files_that_are_not_checkpoints(capsys, tmp_path, content, words):
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    assert words in refused(capsys, str(path))


def test_zips_that_are_not_checkpoints(capsys, tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    assert "neither a torch.save file nor a .keras" in refused(capsys, str(path))
    keras = tmp_path / "broken.keras"
    with zipfile.ZipFile(keras, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\1" * 100)
    assert "HDF5" in refused(capsys, str(keras))
    corrupt = tmp_path / "corrupt.pt"
    data = torch_zip(tmp_path / "ok.pt", {"w": 1}).read_bytes()
    corrupt.write_bytes(data[: len(data) // 2])
    assert "zip" in refused(capsys, str(corrupt))
    no_tensors = torch_zip(tmp_path / "empty.pt", {"epoch": 3})
    assert "holds no state dict" in refused(capsys, str(no_tensors))


def test_folders_without_one_checkpoint(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    assert "holds no checkpoint file" in refused(capsys, str(tmp_path))
    good_safetensors(tmp_path / "a.pt")
    good_safetensors(tmp_path / "b.pt")
    assert "several checkpoint files" in refused(capsys, str(tmp_path))


def test_usage_errors_exit_2(capsys, tmp_path):
    path = str(good_safetensors(tmp_path / "m.safetensors"))
    for argv in ([path, "--nm", "4:2"], [path, "--nm", "x"], [path, "--include", "("], []):
        assert cli.main(["inspect", *argv]) == 2
        assert "Traceback" not in capsys.readouterr()[1]
