"""The tfmot source: runs logged by tfmot's `PruningSummaries`, with their schedules from the
Keras model config that Keras' `TensorBoard` callback writes to the sibling `train` run.

One source of the registry (sources/__init__.py says the interface): its tags are parsed in
tags.py, its reads (several trainings in one run directory, each one's model config) are in
reading.py. It is also the registry's fallback: a run whose config summary is damaged is
read by its tfmot tags, saying why.
"""

from tb_sparsity_plugin.run_data import SOURCE_KERAS, SOURCE_NONE
from tb_sparsity_plugin.tfmot import tags

LABELS = {
    SOURCE_KERAS: "tfmot: schedule from the Keras model config",
    SOURCE_NONE: "tfmot: no schedule on record",
}


def claims(scalar_tags, own_tags):
    """Whether the run holds tfmot's mask sparsity tags (cheap: every listing asks)."""
    return any(map(tags.is_sparsity_tag, scalar_tags))


def is_sparsity_tag(tag):
    """tfmot's mask sparsity and threshold tags (not quality metrics)."""
    return tags.is_sparsity_tag(tag) or bool(tags.THRESHOLD_TAG.match(tag))


def Reading(reads):  # noqa: N802  (the interface's name: a class in the other sources)
    """The source's reads (reading.py), imported on first use so that the registry stays
    importable by the pure analysis (quality.py asks it which tags are sparsity records)."""
    from tb_sparsity_plugin.tfmot.reading import TfmotReading

    return TfmotReading(reads)
