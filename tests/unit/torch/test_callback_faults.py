"""The training callbacks never stop a training: Lightning's `SparsityCallback` writing onto a
read-only file system, and the Keras 3 `SparsityCallback` onto a disk that fills up (real
tmpfs mounts, as root). Each training completes, warns once, and its sparsity records come
back, schedule included, once the cause is gone."""

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import GENERATED, ROOT, make_provider
from tb_sparsity_plugin import metadata
from tmpfs_mounts import caught_warnings, fill, mount_tmpfs, remount, sparsity_warnings, unmount

pytestmark = pytest.mark.torch


def read_back(logdir, run):
    from tensorboard import context

    provider, ctx = make_provider(logdir), context.RequestContext()
    tensors = provider.read_tensors(ctx, experiment_id="", plugin_name=metadata.PLUGIN_NAME, downsample=1000)
    configs = [metadata.decode_document(d.numpy.item()) for d in tensors[run][metadata.CONFIG_TAG]]
    scalars = provider.read_scalars(ctx, experiment_id="", plugin_name="scalars", downsample=100000)
    return configs, {tag: [(d.step, d.value) for d in data] for tag, data in scalars[run].items()}


def test_lightning_callback_on_a_read_only_file_system(tmp_path):
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Callback, ModelPruning

    from lightning_runs import MLP, loaders
    from tb_sparsity_plugin.lightning import SparsityCallback

    disk = mount_tmpfs(tmp_path / "disk", size="1m")
    try:
        remount(disk, "ro")

        class Remount(Callback):  # the administrator fixes the disk during epoch 2
            def on_train_epoch_start(self, trainer, pl_module):
                if trainer.current_epoch == 2:
                    remount(disk, "rw")

        torch.manual_seed(0)
        train, val = loaders()
        trainer = pl.Trainer(
            max_epochs=4, accelerator="cpu", logger=False, enable_progress_bar=False,
            enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0,
            callbacks=[Remount(), SparsityCallback(log_dir=os.path.join(disk, "run"), every_n_steps=4),
                       ModelPruning("l1_unstructured", amount=0.3, parameter_names=["weight"])])
        with caught_warnings() as caught:
            trainer.fit(MLP(), train, val)
        assert trainer.state.finished and trainer.global_step == 32
        messages = sparsity_warnings(caught)
        assert len(messages) == 1 and "Read-only file system" in messages[0], messages
        configs, series = read_back(disk, "run")
        steps = [s for s, _ in series["tb_sparsity/net.0/weight/mask_sparsity"]]
        assert steps == [20, 24, 28, 32]  # from the first log after the remount on
        weight = configs[0]["weights"][0]  # the first config record, written after the fault
        assert weight["pruned_by"]["config"]["amounts"] == [0.3] * 4
        assert weight["pruned_by"]["epoch_end_steps"] == [8, 16]
    finally:
        unmount(disk)


def test_keras3_callback_on_a_full_disk(tmp_path):
    disk = mount_tmpfs(tmp_path / "disk", size="200k")
    try:
        filler = fill(disk, 8 * 1024)
        proc = subprocess.run(
            [sys.executable, os.path.join(GENERATED, "keras3_fault_training.py"), os.path.join(disk, "run"), filler],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT, TF_USE_LEGACY_KERAS="0"),
            capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-5000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["epochs"] == 4  # the training completed
        first = min(result["failed"])  # the disk filled up during epoch 1 or 2, was freed at epoch 3
        # (an epoch's end tries again the step whose batch-end log failed)
        assert sorted(set(result["failed"])) == list(range(first, 17)) and 0 < first < 16, result
        assert result["written"] == list(range(0, first)) + list(range(17, 33)), result
        assert len(result["warnings"]) == 1 and "No space left on device" in result["warnings"][0]
        configs, series = read_back(disk, "run")
        logged = [s for s, _ in series["tb_sparsity/fc1/kernel/mask_sparsity"]]
        assert logged == sorted(result["written"])  # everything written is readable
        assert configs[-1]["framework"] == "keras" and len(configs[-1]["weights"]) == 3
    finally:
        unmount(disk)
