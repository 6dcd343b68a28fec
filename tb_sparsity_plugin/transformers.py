"""`SparsityCallback` for Hugging Face Transformers' `Trainer`: sparsity in the Sparsity tab.

    from transformers import Trainer, TrainingArguments
    from tb_sparsity_plugin.transformers import SparsityCallback

    args = TrainingArguments("out", report_to=["tensorboard"], logging_steps=50, save_steps=500)
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[SparsityCallback()])

It logs with `tb_sparsity_plugin.torch.SparsityWriter` into the run Transformers' own
`TensorBoardCallback` writes to (its `SummaryWriter`, so loss and sparsity share a run). In
Transformers 5 that run is `$TENSORBOARD_LOGGING_DIR`, else `output_dir/runs/<date>_<host>`
(`TrainingArguments` has no `logging_dir`); without that callback (`report_to` without
"tensorboard") the same rule picks the directory, or pass `log_dir`.

What it measures, at every step the Trainer logs (`on_log`), at the last step and at every
checkpoint (`on_save`): the masks of `torch.nn.utils.prune` and `torch.ao.pruning`, and, with
`track="weights"` (the default), the exact zeros of every layer's weight that has no mask (a
model pruned in place, e.g. one-shot, then fine-tuned). Steps are `state.global_step`. At each
checkpoint it also writes the scalar `tb_sparsity/checkpoint_step` (= the step of
`checkpoint-<step>/`), so what `tb-sparsity inspect` reads from a checkpoint lines up with the
logged curve. Only the main process (`state.is_world_process_zero`) writes.

Logging never stops the training: a fault warns once per cause (SparsityWriter).
"""

import inspect
import os

from transformers import TrainerCallback

from tb_sparsity_plugin.torch import SparsityWriter

__all__ = ["SparsityCallback", "CHECKPOINT_STEP_TAG"]

CHECKPOINT_STEP_TAG = "tb_sparsity/checkpoint_step"


class SparsityCallback(TrainerCallback):
    """Logs per-tensor sparsity of the Trainer's model for the Sparsity tab.

    Args:
      log_dir: a directory to write into instead of the TensorBoard callback's run.
      track: `"weights"` (default): every layer's weight (2-D or more), its mask's sparsity
        when it has a mask, else its exact zeros; `None`: masked tensors only.
      nm: `(N, M)` pattern whose compliance is logged (SparsityWriter), or `None`.
    """

    def __init__(self, log_dir=None, track="weights", nm=(2, 4)):
        if log_dir is not None and not str(log_dir):
            raise ValueError("log_dir must be a non-empty path or None")
        if track not in ("weights", None):
            raise ValueError('track must be "weights" or None, got %r' % (track,))
        self.log_dir = os.fspath(log_dir) if log_dir is not None else None
        self.track = track
        self.nm = nm
        self.writer = None
        self._logged = None  # the step logged last
        self._handler = None

    # -- Trainer events ----------------------------------------------------------------------

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._close(state, log=False)
        if not state.is_world_process_zero or model is None:
            return
        self._handler = _calling_handler()
        self._model = model
        self._logged = None
        self._log(args, state)

    def on_step_end(self, args, state, control, **kwargs):
        if state.max_steps and state.global_step >= state.max_steps:
            self._log(args, state)  # the last step, before the TensorBoard callback closes its writer

    def on_log(self, args, state, control, logs=None, **kwargs):
        self._log(args, state)

    def on_save(self, args, state, control, **kwargs):
        if self._model is None:
            return
        extra = {CHECKPOINT_STEP_TAG: float(state.global_step)}
        if self._logged == state.global_step:
            self._writer(args).log_scalars(state.global_step, extra)
        else:
            self._log(args, state, extra)

    def on_train_end(self, args, state, control, **kwargs):
        self._close(state, log=self._logged != state.global_step)

    # -- internals ---------------------------------------------------------------------------

    _model = None

    def _log(self, args, state, extra=None):
        if self._model is None or self._logged == state.global_step:
            return
        self._writer(args).log(state.global_step, extra=extra)
        self._logged = state.global_step

    def _writer(self, args):
        if self.writer is None:
            self.writer = SparsityWriter(self._target(args), self._model, nm=self.nm, track=self.track)
        return self.writer

    def _target(self, args):
        if self.log_dir is not None:
            return self.log_dir
        tensorboard = _tensorboard_callback(self._handler)
        if tensorboard is not None:
            if tensorboard.tb_writer is not None:
                return tensorboard.tb_writer  # its SummaryWriter: the same run as the loss
            if tensorboard.logging_dir is not None:
                return tensorboard.logging_dir
        return tensorboard_logging_dir(args)

    def _close(self, state, log):
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close(state.global_step, log=log)
        self._model = None


def tensorboard_logging_dir(args):
    """Where Transformers 5's TensorBoardCallback writes when it makes the directory itself:
    `$TENSORBOARD_LOGGING_DIR`, else `output_dir/runs/<date>_<host>`."""
    from transformers.integrations.integration_utils import default_logdir

    env = os.getenv("TENSORBOARD_LOGGING_DIR")
    if env:
        return os.path.expanduser(env)
    return os.path.join(args.output_dir, default_logdir())


def _tensorboard_callback(handler):
    from transformers.integrations import TensorBoardCallback

    for callback in getattr(handler, "callbacks", ()) or ():
        if isinstance(callback, TensorBoardCallback):
            return callback
    return None


def _calling_handler():
    """The `CallbackHandler` whose `call_event` is calling us.

    A `TrainerCallback`'s events get the model, optimizer and dataloaders but not the
    trainer or its other callbacks; the TensorBoard callback's writer (and so its run
    directory, named by the time it was made) is only reachable through the handler, a few
    frames up.
    """
    from transformers.trainer_callback import CallbackHandler

    frame = inspect.currentframe()
    try:
        for _ in range(8):
            frame = frame.f_back if frame is not None else None
            if frame is None:
                return None
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, CallbackHandler):
                return candidate
        return None
    finally:
        del frame
