"""The one exception of checkpoint reading: a sentence for the user, exit status 2."""


class CheckpointError(Exception):
    """A checkpoint that cannot be read (missing, truncated, corrupt, unsupported, refused),
    said in one sentence that names the file."""
