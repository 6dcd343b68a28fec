"""The registry: the source modules in the order the reader asks them (sources/__init__.py
says the interface)."""


from tb_sparsity_plugin.sources import own
from tb_sparsity_plugin.sources import tools
from tb_sparsity_plugin.tfmot import source as tfmot_source

SOURCES = [own, tfmot_source, tools]
# Reads a run that the sources claiming it all declined (a damaged config summary).
FALLBACK = tfmot_source


def register(source, first=False):
    """Add a source module to the registry (first: before the others)."""
    if source not in SOURCES:
        SOURCES.insert(0 if first else len(SOURCES), source)


def claimed(scalar_tags, own_tags):
    """Whether any source claims a run with these tags (stops at the first: every request
    asks it of every run)."""
    return any(s.claims(scalar_tags, own_tags) for s in SOURCES)


def claiming(scalar_tags, own_tags):
    """The sources that claim a run with these tags, in order."""
    return [s for s in SOURCES if s.claims(scalar_tags, own_tags)]


def is_sparsity_tag(tag):
    """Whether a scalar tag is any source's sparsity record (not a quality metric)."""
    return any(s.is_sparsity_tag(tag) for s in SOURCES)


def label(schedule_source):
    """What the dashboard and the report say of a `schedule_source` (None: unknown)."""
    for s in SOURCES:
        if schedule_source in s.LABELS:
            return s.LABELS[schedule_source]
    return None
