"""A checkpoint path (a file, or a folder holding one checkpoint) -> its prunable weights.

The format is told by the file's first bytes, not its name: a zip is a torch.save archive
(`<archive>/data.pkl`) or a `.keras` archive (`model.weights.h5`), HDF5 is a Keras `.h5`, an
8-byte length then `{` is safetensors, and a bare pickle is torch's pre-1.6 format (refused).
A folder holds one checkpoint: a shard index (`model.safetensors.index.json`), else
`model.safetensors`, else `pytorch_model.bin`, else its one weights file (`.safetensors`,
`.keras`, `.h5`, `.pt`, `.pth`, `.bin`, `.ckpt`); a Hugging Face Trainer's optimizer,
scheduler, RNG and training-argument files are not weights and are passed over.
"""

from tb_sparsity_plugin.checkpoints import byte_source
from tb_sparsity_plugin.checkpoints import keras_file
from tb_sparsity_plugin.checkpoints import safetensors_file
from tb_sparsity_plugin.checkpoints import torch_file
from tb_sparsity_plugin.checkpoints import weights as weights_lib
from tb_sparsity_plugin.checkpoints.errors import CheckpointError

WEIGHT_SUFFIXES = (".safetensors", ".keras", ".h5", ".hdf5", ".pt", ".pth", ".bin", ".ckpt")
# Files of a Hugging Face Trainer checkpoint folder that are not the model's weights.
NOT_WEIGHTS = ("optimizer.pt", "optimizer.bin", "scheduler.pt", "scaler.pt",
               "training_args.bin")
SHARD_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")


class Checkpoint:
    """The prunable weights of one checkpoint (`weights`, weights.Weight), its `format`
    and the files it was read from; close() releases them."""

    def __init__(self, path, format_name, weight_list, files, closers):
        self.path, self.format, self.weights, self.files = path, format_name, weight_list, files
        self._closers = closers

    def close(self):
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # releasing a file that failed to read: nothing more to say
                pass
        self._closers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def weight_files(folder):
    """The files of the one checkpoint in `folder`: [index] for a sharded one, else [file]."""
    names = byte_source.listdir(folder)
    for name in SHARD_INDEXES + SINGLE_FILES:
        if name in names:
            return [byte_source.join(folder, name)]
    candidates = [n for n in names if n.lower().endswith(WEIGHT_SUFFIXES)
                  and n not in NOT_WEIGHTS and not n.startswith("rng_state")
                  and not byte_source.isdir(byte_source.join(folder, n))]
    safetensors = [n for n in candidates if n.endswith(".safetensors")]
    if len(safetensors) > 1:  # shards without an index: one checkpoint, every tensor
        return [byte_source.join(folder, n) for n in safetensors]
    if len(candidates) == 1:
        return [byte_source.join(folder, candidates[0])]
    if not candidates:
        raise CheckpointError("%s holds no checkpoint file (%s)" % (
            folder, "safetensors, .pt/.pth/.bin/.ckpt, .keras or .h5"))
    raise CheckpointError("%s holds several checkpoint files (%s): name the one to read" % (
        folder, ", ".join(candidates[:6])))


def open_checkpoint(path, include=None):
    """The Checkpoint at `path` (a file or a folder of one checkpoint). Raises
    CheckpointError with one sentence when it cannot be read."""
    if not byte_source.exists(path):
        raise CheckpointError("%s does not exist" % path)
    files = weight_files(path) if byte_source.isdir(path) else [path]
    closers = []
    try:
        if files[0].endswith(".index.json"):
            if files[0].endswith("pytorch_model.bin.index.json"):
                return _torch_shards(path, files[0], include, closers)
            sources = {}
            closers.append(lambda: [s.close() for s in sources.values()])
            refs = safetensors_file.sharded_tensors(files[0], sources)
            return Checkpoint(path, "safetensors (sharded)",
                              weights_lib.torch_weights(refs, include),
                              [files[0]] + sorted(sources), closers)
        if len(files) > 1:  # several safetensors files of one model
            refs = []
            for f in files:
                source = byte_source.ByteSource(f)
                closers.append(source.close)
                refs.extend(_expect_safetensors(source))
            return Checkpoint(path, "safetensors (%d files)" % len(files),
                              weights_lib.torch_weights(refs, include), files, closers)
        return _open_file(path, files[0], include, closers)
    except BaseException:
        for close in reversed(closers):
            close()
        raise


def _expect_safetensors(source):
    if not safetensors_file.looks_like_safetensors(source.read(0, min(9, source.size))):
        raise CheckpointError("%s is not a safetensors file" % source.path)
    return safetensors_file.tensors(source)


def _open_file(path, file_path, include, closers):
    source = byte_source.ByteSource(file_path)
    closers.append(source.close)
    head = source.read(0, min(16, source.size))
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        archive = torch_file.open_zip(source)
        closers.append(archive.close)
        if torch_file.is_torch_zip(archive):
            refs = torch_file.tensors(source, archive)
            return Checkpoint(path, "torch.save", weights_lib.torch_weights(refs, include),
                              [file_path], closers)
        h5, config = keras_file.open_keras(source, archive)
        closers.append(h5.close)
        found = keras_file.weights(h5, config, file_path)
        return Checkpoint(path, "keras", weights_lib.keras_weights(found, include),
                          [file_path], closers)
    if keras_file.is_hdf5(head):
        h5, config = keras_file.open_h5(source)
        closers.append(h5.close)
        found = keras_file.weights(h5, config, file_path)
        return Checkpoint(path, "keras h5", weights_lib.keras_weights(found, include),
                          [file_path], closers)
    if safetensors_file.looks_like_safetensors(head):
        refs = safetensors_file.tensors(source)
        return Checkpoint(path, "safetensors", weights_lib.torch_weights(refs, include),
                          [file_path], closers)
    if torch_file.is_legacy_pickle(head):
        raise CheckpointError("%s is a bare pickle (torch.save before 1.6, or with "
                              "_use_new_zipfile_serialization=False); not supported: re-save "
                              "it with a current torch.save" % file_path)
    raise CheckpointError("%s is not a checkpoint this reader knows (safetensors, torch.save "
                          "zip, .keras or Keras .h5)" % file_path)


def _torch_shards(path, index_path, include, closers):
    """`pytorch_model.bin.index.json`: torch.save shards, mapped like safetensors'."""
    weight_map = safetensors_file.read_index(index_path)
    refs = []
    files = [index_path]
    for shard in sorted(set(weight_map.values())):
        if not byte_source.exists(shard):
            raise CheckpointError("%s names shard %s, which does not exist" % (
                index_path, byte_source.basename(shard)))
        source = byte_source.ByteSource(shard)
        closers.append(source.close)
        archive = torch_file.open_zip(source)
        closers.append(archive.close)
        if not torch_file.is_torch_zip(archive):
            raise CheckpointError("%s is not a torch.save file" % shard)
        refs.extend(torch_file.tensors(source, archive))
        files.append(shard)
    return Checkpoint(path, "torch.save (sharded)", weights_lib.torch_weights(refs, include),
                      files, closers)
