"""`SparsityCallback` for Lightning: what `ModelPruning` did, in the Sparsity tab.

    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import ModelPruning
    from tb_sparsity_plugin.lightning import SparsityCallback

    trainer = Trainer(max_epochs=4, callbacks=[
        ModelPruning("l1_unstructured", amount=0.3),
        SparsityCallback(every_n_steps=50),
    ])

It logs with `tb_sparsity_plugin.torch.SparsityWriter` into the run of the trainer's
`TensorBoardLogger` (next to the loss and metrics Lightning logs there), or into `log_dir`,
or, without a TensorBoard logger, into `trainer.log_dir`. Steps are `trainer.global_step`
(optimizer steps). It logs at train start, every `every_n_steps` steps, and at each
epoch's end *after* `ModelPruning` applied its masks (also when it prunes at the end of
validation, `prune_on_train_epoch_end=False`). Only rank 0 writes.

`ModelPruning` prunes in `on_train_epoch_end` (or `on_validation_epoch_end`), and Lightning
calls a hook on its callbacks in list order; so at `setup` this callback moves itself right
after the last `ModelPruning` in `trainer.callbacks`, wherever the user listed it.

With a `ModelPruning` in the trainer the tensors it prunes are logged from the start (0 %
until the first pruning, as their exact zeros) and each gets a `pruned_by` field in the
config summary: the callback's schedule (`amount` as given, `amounts` evaluated for every
epoch the trainer will run when it is a callable, `apply_pruning`, the pruning method,
`use_global_unstructured`, `prune_on_train_epoch_end`, the parameters it prunes) and the step
at which each epoch ended.

Logging never stops the training: a fault warns once per cause (SparsityWriter).
"""

import math
import os

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.callbacks import ModelPruning

from tb_sparsity_plugin.torch import SparsityWriter

__all__ = ["SparsityCallback"]


class SparsityCallback(Callback):
    """Logs per-tensor sparsity of the LightningModule (masks of `torch.nn.utils.prune` and
    `torch.ao.pruning`, e.g. from `ModelPruning`) for the Sparsity tab.

    Args:
      log_dir: a directory to write into instead of the trainer's TensorBoard logger's run.
      every_n_steps: log every this many optimizer steps (besides train start and epoch ends).
      nm: `(N, M)` pattern whose compliance is logged (SparsityWriter), or `None`.
    """

    def __init__(self, log_dir=None, every_n_steps=50, nm=(2, 4)):
        super().__init__()
        if log_dir is not None and not str(log_dir):
            raise ValueError("log_dir must be a non-empty path or None")
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 1:
            raise ValueError("every_n_steps must be a positive int, got %r" % (every_n_steps,))
        self.log_dir = os.fspath(log_dir) if log_dir is not None else None
        self.every_n_steps = every_n_steps
        self.nm = nm
        self.writer = None
        self._due = None  # a step whose batch-end log waits for the next hook
        self._logged = None  # the step logged last
        self._epoch_steps = []

    # -- Lightning hooks ---------------------------------------------------------------------

    def setup(self, trainer, pl_module, stage):
        if stage != "fit":
            return
        # Lightning iterates over the list it read for this hook, so a new list takes effect
        # from the next hook on (its own _reorder_callbacks assigns one the same way).
        callbacks = list(trainer.callbacks)
        last_pruning = max((i for i, cb in enumerate(callbacks) if isinstance(cb, ModelPruning)), default=-1)
        mine = callbacks.index(self) if self in callbacks else -1
        if 0 <= mine < last_pruning:
            callbacks.remove(self)
            callbacks.insert(last_pruning, self)  # right after it (it moved up by one)
            trainer.callbacks = callbacks

    def on_train_start(self, trainer, pl_module):
        self._close(trainer, log=False)
        if not trainer.is_global_zero:
            return
        pruning = [cb for cb in trainer.callbacks if isinstance(cb, ModelPruning)]
        names = _module_names(pl_module)
        described = [(cb, _pruned_names(cb, names)) for cb in pruning]
        track = sorted({n for _, ns in described for n in ns})
        self.writer = SparsityWriter(self._target(trainer), pl_module, nm=self.nm, track=track or None)
        self._epoch_steps = []
        self._pruning = described
        self._annotate(trainer)
        self._due = self._logged = None
        self._log(trainer)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._due is not None:
            self._log(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # Logged at the next hook instead: when this was the epoch's last batch, the epoch's
        # end (after pruning) is that hook, and one record per step says the state after it.
        step = trainer.global_step
        if self.writer is not None and step % self.every_n_steps == 0 and step != self._logged:
            self._due = step

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking or self.writer is None:
            return
        if any(not cb._prune_on_train_epoch_end for cb, _ in self._pruning):
            self._epoch_end(trainer)

    def on_train_epoch_end(self, trainer, pl_module):
        if self.writer is not None:
            self._epoch_end(trainer)

    def on_train_end(self, trainer, pl_module):
        # ModelPruning (before us) may have removed the masks (make_pruning_permanent): the
        # state at this step was logged at the epoch's end, so only a later step is logged.
        self._close(trainer, log=self._logged != trainer.global_step)

    def on_exception(self, trainer, pl_module, exception):
        self._close(trainer, log=False)

    def teardown(self, trainer, pl_module, stage):
        self._close(trainer, log=False)

    # -- internals ---------------------------------------------------------------------------

    def _target(self, trainer):
        if self.log_dir is not None:
            return self.log_dir
        from lightning.pytorch.loggers import TensorBoardLogger

        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                return logger.experiment  # a torch SummaryWriter: the same run as the metrics
        return trainer.log_dir or trainer.default_root_dir

    def _epoch_end(self, trainer):
        step = trainer.global_step
        if not self._epoch_steps or self._epoch_steps[-1] != step:
            self._epoch_steps.append(step)
            self._annotate(trainer)
        self._log(trainer, again=True)

    def _log(self, trainer, again=False):
        step = trainer.global_step
        self._due = None
        if self.writer is None or (step == self._logged and not again):
            return
        self.writer.log(step)
        self._logged = step

    def _annotate(self, trainer):
        epochs = _planned_epochs(trainer)
        for cb, names in self._pruning:
            fields = {"pruned_by": {"class_name": "lightning.pytorch.callbacks.ModelPruning",
                                    "config": describe_model_pruning(cb, names, epochs),
                                    "epoch_end_steps": list(self._epoch_steps)}}
            self.writer.annotate(names, fields)

    def _close(self, trainer, log):
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close(trainer.global_step, log=log)


def describe_model_pruning(cb, names, epochs):
    """A `ModelPruning`'s schedule as JSON: what it prunes, how much at each epoch."""
    amount, apply = cb.amount, cb._apply_pruning
    config = {
        "pruning_method": _method_name(cb),
        "pruning_kwargs": _plain_dict(_method_kwargs(cb)),
        "amount": None if callable(amount) else amount,
        "amount_is_callable": callable(amount),
        "apply_pruning": None if callable(apply) else bool(apply),
        "apply_pruning_is_callable": callable(apply),
        "use_global_unstructured": bool(cb._use_global_unstructured),
        "prune_on_train_epoch_end": bool(cb._prune_on_train_epoch_end),
        "use_lottery_ticket_hypothesis": (None if callable(cb._use_lottery_ticket_hypothesis)
                                          else bool(cb._use_lottery_ticket_hypothesis)),
        "make_pruning_permanent": bool(cb._make_pruning_permanent),
        "parameters": list(names),
        "max_epochs": epochs,
    }
    # ModelPruning._run_pruning: amount(epoch) and apply_pruning(epoch), every epoch; no
    # pruning when either is falsy. Evaluated here for every epoch the trainer will run.
    amounts, applied, error = [], [], None
    try:
        for epoch in range(epochs or 0):
            amounts.append(_number(amount(epoch) if callable(amount) else amount))
            applied.append(bool(apply(epoch) if callable(apply) else apply))
    except Exception as e:  # noqa: BLE001 - a user's callable: say it, do not stop the training
        amounts, applied, error = None, None, "%s: %s" % (type(e).__name__, e)
    config["amounts"] = amounts
    config["applied"] = applied
    config["pruning_epochs"] = (None if amounts is None else
                                [e for e, (a, p) in enumerate(zip(amounts, applied)) if a and p])
    if error:
        config["schedule_error"] = error
    return config


def _planned_epochs(trainer):
    """The epochs this fit runs: `max_epochs`, or what `max_steps` makes of it."""
    if trainer.max_epochs is not None and trainer.max_epochs >= 0:
        epochs = trainer.max_epochs
        if trainer.max_steps is not None and trainer.max_steps >= 0:
            epochs = min(epochs, _epochs_for_steps(trainer) or epochs)
        return epochs
    return _epochs_for_steps(trainer)


def _epochs_for_steps(trainer):
    try:
        per_epoch = trainer.num_training_batches / trainer.accumulate_grad_batches
        if trainer.max_steps is None or trainer.max_steps < 0 or not math.isfinite(per_epoch):
            return None
        return max(1, math.ceil(trainer.max_steps / per_epoch))
    except (TypeError, ZeroDivisionError, AttributeError):
        return None


def _module_names(pl_module):
    return {id(m): path for path, m in pl_module.named_modules()}


def _pruned_names(cb, names):
    out = []
    for module, name in getattr(cb, "_parameters_to_prune", ()) or ():
        path = names.get(id(module))
        if path is not None:
            out.append("%s.%s" % (path, name) if path else name)
    return out


def _method_name(cb):
    from lightning.pytorch.callbacks.pruning import _PYTORCH_PRUNING_METHOD

    fn = cb.pruning_fn
    name = cb._pruning_method_name or getattr(fn, "__name__", None) or getattr(
        getattr(fn, "func", None), "__name__", None)
    method = _PYTORCH_PRUNING_METHOD.get(name)  # a function name: its method's class
    return method.__name__ if method is not None else name


def _method_kwargs(cb):
    if cb._use_global_unstructured:
        return {k: v for k, v in cb._global_kwargs.items() if k != "amount"}
    return dict(getattr(cb.pruning_fn, "keywords", None) or {})


def _number(value):
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else float(value)


def _plain_dict(d):
    return {k: (v if isinstance(v, (int, float, str, bool)) or v is None else repr(v)) for k, v in d.items()}
