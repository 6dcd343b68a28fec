"""A training never dies because of sparsity logging: SparsityWriter (and the EventWriter under
it) on a disk that fills up, a file system remounted read-only, a closed SummaryWriter, a
model changed under it, and a training killed with SIGKILL while it logs. Real faults: a
200 KB tmpfs, `mount -o remount,ro`, `kill -9` (the tests run as root)."""

import json
import os
import signal
import struct
import subprocess
import sys
import time

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from conftest import GENERATED, ROOT, get, make_client, make_provider
from tb_sparsity_plugin import metadata
from tb_sparsity_plugin.torch import SparsityWriter
from tmpfs_mounts import caught_warnings, fill, mount_tmpfs, remount, sparsity_warnings, unmount

pytestmark = pytest.mark.torch
F32 = 1e-6


@pytest.fixture
def disk(tmp_path):
    path = mount_tmpfs(tmp_path / "disk", size="200k")
    yield path
    unmount(path)


class Training:
    """A tiny MLP trained step by step; `l1_unstructured(0.2)` on its first layer every 30 steps."""

    def __init__(self):
        torch.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.05)
        self.data = (torch.randn(32, 16), torch.randint(0, 10, (32,)))
        self.masks = {}  # step -> the first layer's true mask sparsity

    def step(self, step):
        self.optimizer.zero_grad()
        nn.functional.cross_entropy(self.model(self.data[0]), self.data[1]).backward()
        self.optimizer.step()
        if step % 30 == 0:
            prune.l1_unstructured(self.model[0], "weight", amount=0.2)
        mask = getattr(self.model[0], "weight_mask", None)
        self.masks[step] = float((mask == 0).sum()) / mask.numel() if mask is not None else 0.0


def read_back(logdir, run):
    from tensorboard import context

    provider, ctx = make_provider(logdir), context.RequestContext()
    tensors = provider.read_tensors(ctx, experiment_id="", plugin_name=metadata.PLUGIN_NAME, downsample=1000)
    doc = metadata.decode_document(tensors[run][metadata.CONFIG_TAG][-1].numpy.item())
    scalars = provider.read_scalars(ctx, experiment_id="", plugin_name="scalars", downsample=100000)
    return doc, {tag: [(d.step, d.value) for d in data] for tag, data in scalars[run].items()}


def train_and_log(writer, training, steps, at=None):
    """Train and log every step; `at[step]()` runs before that step's log. Returns the steps
    whose log wrote its record and the steps whose log could not."""
    written, failed = [], []
    for step in range(1, steps + 1):
        training.step(step)
        if at and step in at:
            at[step]()
        (written if writer.log(step) else failed).append(step)
    writer.close(steps)  # never raises
    return written, failed


def check_run(logdir, run, training, written, calls):
    """What was written is readable, equals the masks, and the schedule is on record."""
    doc, series = read_back(logdir, run)
    weight = next(w for w in doc["weights"] if w["name"] == "0.weight")
    logged = series[weight["tags"]["mask_sparsity"]]
    assert [s for s, _ in logged] == written
    for step, value in logged:
        assert abs(value - training.masks[step]) < F32, step
    assert weight["schedule"]["kind"] == "compound" and weight["schedule"]["amounts"] == [0.2] * calls
    return doc, series


def test_disk_full_warns_once_training_goes_on_and_logging_resumes(disk):
    filler = fill(disk, 16 * 1024)
    training = Training()
    writer = SparsityWriter(os.path.join(disk, "run"), training.model, track="weights")
    with caught_warnings() as caught:
        written, failed = train_and_log(writer, training, 200, at={150: lambda: os.remove(filler)})
    assert failed and failed == list(range(failed[0], 150)) and failed[0] < 60, failed
    assert written == [s for s in range(1, 201) if s not in failed]
    messages = sparsity_warnings(caught)
    assert len(messages) == 1 and "No space left on device" in messages[0], messages
    # prune calls made while the disk was full are in the schedule written once it was not
    check_run(disk, "run", training, written, calls=6)
    layer = next(l for l in get(make_client(disk), "run?run=run")["layers"] if l["name"] == "0")
    assert layer["schedule_text"] != "no schedule" and layer["expected"]
    assert layer["measured"][-1] == [200, pytest.approx(training.masks[200], abs=F32)]


def test_disk_full_under_a_summary_writer_goes_on_in_a_file_of_its_own(disk):
    from torch.utils.tensorboard import SummaryWriter

    filler = fill(disk, 16 * 1024)
    training = Training()
    summary_writer = SummaryWriter(os.path.join(disk, "run"))
    writer = SparsityWriter(summary_writer, training.model, track="weights")
    with caught_warnings() as caught:
        written, failed = train_and_log(writer, training, 200, at={150: lambda: os.remove(filler)})
    assert failed and max(failed) == 149 and 200 in written
    messages = sparsity_warnings(caught)
    assert len(messages) == 1 and "No space left on device" in messages[0], messages
    assert "an event file of their own" in messages[0]
    files = sorted(os.listdir(os.path.join(disk, "run")))
    # the user's and ours, which sorts after it: TensorBoard reads a run's files in name order
    assert len(files) == 2 and files[1].endswith(".tb_sparsity"), files
    check_run(disk, "run", training, written, calls=6)
    runs = get(make_client(disk), "runs")["runs"]
    assert [(r["run"], r["last_step"]) for r in runs] == [("run", 200)]


def test_read_only_file_system_warns_once_and_logging_resumes(tmp_path):
    path = mount_tmpfs(tmp_path / "disk", size="1m")
    try:
        training = Training()
        writer = SparsityWriter(os.path.join(path, "run"), training.model, track="weights")
        # SparsityWriter holds no file open between records, so the remount is not refused
        with caught_warnings() as caught:
            written, failed = train_and_log(writer, training, 60, at={
                20: lambda: remount(path, "ro"), 40: lambda: remount(path, "rw")})
        assert failed == list(range(20, 40)), failed
        messages = sparsity_warnings(caught)
        assert len(messages) == 1 and "Read-only file system" in messages[0], messages
        check_run(path, "run", training, written, calls=2)  # the call at step 30 was read-only
    finally:
        unmount(path)


def test_a_closed_summary_writer(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    training = Training()
    summary_writer = SummaryWriter(str(tmp_path / "run"))
    writer = SparsityWriter(summary_writer, training.model, track="weights")
    with caught_warnings() as caught:
        written, failed = train_and_log(writer, training, 40, at={20: summary_writer.close})
    assert failed == [] and written == list(range(1, 41))
    messages = sparsity_warnings(caught)
    assert len(messages) == 1 and "closed" in messages[0] and "of their own" in messages[0], messages
    check_run(str(tmp_path), "run", training, written, calls=1)
    assert [(r["run"], r["last_step"]) for r in get(make_client(str(tmp_path)), "runs")["runs"]] == [("run", 40)]


def test_a_model_changed_under_the_writer(tmp_path):
    training = Training()
    writer = SparsityWriter(str(tmp_path / "run"), training.model)
    mask = {}

    def resize():  # network surgery half done: the mask no longer fits its weight
        mask["kept"] = training.model[0].weight_mask
        training.model[0].weight_mask = torch.ones(3, 3)

    def restore():
        training.model[0].weight_mask = mask["kept"]

    with caught_warnings() as caught:
        for step in range(1, 31):
            training.step(step)
        assert writer.log(30)
        resize()
        assert writer.log(31) == {} and writer.log(32) == {}  # training would go on meanwhile
        restore()
        assert writer.log(33)
        writer.close(33)
    messages = sparsity_warnings(caught)
    assert len(messages) == 1 and "measure the model" in messages[0], messages
    doc, series = read_back(str(tmp_path), "run")
    assert [s for s, _ in series["tb_sparsity/0/weight/mask_sparsity"]] == [30, 33]


def test_close_never_raises_and_log_after_close_warns(tmp_path):
    training = Training()
    writer = SparsityWriter(str(tmp_path / "run"), training.model)
    training.step(30)
    writer.close(30)
    writer.close(31)
    with caught_warnings() as caught:
        assert writer.log(32) == {} and writer.log(33) == {}
    messages = sparsity_warnings(caught)
    assert len(messages) == 1 and "closed" in messages[0] and "make a new SparsityWriter" in messages[0]


# -- SIGKILL ----------------------------------------------------------------------------------


def records(path):
    """[(start, end)] of the whole TFRecord records of an event file."""
    out, offset = [], 0
    data = open(path, "rb").read()
    while offset + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        end = offset + 12 + length + 4
        if end > len(data):
            break
        out.append((offset, end))
        offset = end
    return out


def test_sigkill_while_logging_loses_at_most_the_record_being_written(tmp_path):
    logdir, progress = tmp_path / "logs", tmp_path / "progress"
    script = os.path.join(GENERATED, "killable_training.py")
    child = subprocess.Popen([sys.executable, script, str(logdir / "run"), str(progress)], cwd=ROOT,
                             env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    deadline = time.time() + 180
    while time.time() < deadline and (not progress.exists() or len(progress.read_bytes().split()) < 80):
        assert child.poll() is None, child.stderr.read().decode()[-3000:]
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    done = [int(s) for s in progress.read_bytes().split()]
    assert len(done) >= 80

    def logged_steps():
        _, series = read_back(str(logdir), "run")
        return [s for s, _ in series["tb_sparsity/0/weight/mask_sparsity"]]

    steps = logged_steps()
    assert steps[:len(done)] == done and len(steps) <= len(done) + 1  # + the one being written
    # A kill in the middle of a write leaves a part of that record at the end of the file:
    # cut the last record short, as it would be.
    (event_file,) = [os.path.join(logdir, "run", f) for f in os.listdir(logdir / "run")]
    start, end = records(event_file)[-1]
    with open(event_file, "r+b") as f:
        f.truncate(start + (end - start) // 2)
    steps = logged_steps()
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= len(done) - 1
    last = steps[-1]
    # the tab and the command line show everything before it
    document = get(make_client(str(logdir)), "run?run=run")
    assert document["last_step"] == last
    assert {l["measured"][-1][0] for l in document["layers"]} == {last}
    cli = subprocess.run([sys.executable, "-m", "tb_sparsity_plugin", "export", str(logdir), "--run", "run",
                          "--format", "json"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr[-3000:]
    exported = json.loads(cli.stdout)
    assert {l["measured"][-1][0] for l in exported["layers"]} == {last}
    assert len(exported["layers"][0]["measured"]) == last


def test_warnings_turned_into_errors_do_not_stop_the_training(tmp_path, caplog):
    import warnings

    training = Training()
    writer = SparsityWriter(str(tmp_path / "run"), training.model)
    writer.close(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as `python -W error` or pytest's -W error would
        assert writer.log(2) == {}  # no exception: the warning goes to logging instead
    assert any("Training goes on" in r.getMessage() for r in caplog.records)
