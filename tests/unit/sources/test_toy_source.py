"""Adding a framework is one module with the source interface and one registry line
(docs/adding_a_framework.md): a toy source, registered here, is read by the real reader and
served by the real plugin's `runs` and `run` routes, next to the built-in sources."""

import os

import pytest

from conftest import get, make_client
from tb_sparsity_plugin import summary
from tb_sparsity_plugin.run_data import LayerData, RunData, RunSummary, clean_series, run_group
from tb_sparsity_plugin.sources import registry
from tb_sparsity_plugin.sources.plans import DECLINED

TOY_SOURCE = "toy_tags"
PREFIX = "toy/"  # the toy framework logs `toy/<layer>` = the layer's fraction of zeros


class ToySource:
    """The whole interface of a source (sources/__init__.py), as a test-local module would
    define it."""

    LABELS = {TOY_SOURCE: "toy: measured only"}

    @staticmethod
    def claims(scalar_tags, own_tags):
        return any(tag.startswith(PREFIX) for tag in scalar_tags)

    @staticmethod
    def is_sparsity_tag(tag):
        return tag.startswith(PREFIX)

    class Reading:
        def __init__(self, reads):
            self.reads = reads

        def summarize(self, ctx, experiment_id, run, listing):
            tags = [t for t in listing.scalars.get(run, {}) if t.startswith(PREFIX)]
            if not tags:
                return DECLINED
            last = max(int(listing.scalars[run][t].max_step) for t in tags)
            return [RunSummary(run, run_group(run), len(tags), TOY_SOURCE, last, "Toy")]

        def read(self, ctx, experiment_id, run, listing, thresholds, index, skipped, problems):
            tags = sorted(t for t in listing.scalars.get(run, {}) if t.startswith(PREFIX))
            if index is not None:
                return None
            series = self.reads.scalars(ctx, experiment_id, run, tags, skipped)
            layers = [LayerData(tag=t, wrapper=t[len(PREFIX):], name=t[len(PREFIX):], weight="",
                                key=t[len(PREFIX):], position=None, layer_class=None,
                                params=None, schedule=None,
                                measured=clean_series(series.get(t, []), skipped))
                      for t in tags]
            return RunData(run, run_group(run), TOY_SOURCE, layers, skipped=skipped)


WRITTEN = {"toy/fc1": [(0, 0.0), (10, 0.25), (20, 0.5)], "toy/fc2": [(0, 0.0), (20, 0.75)]}


@pytest.fixture
def toy_logdir(tmp_path):
    run_dir = tmp_path / "logs" / "toy_run"
    writer = summary.EventWriter(str(run_dir))
    for step in (0, 10, 20):
        values = {tag: v for tag, points in WRITTEN.items() for s, v in points if s == step}
        writer.add_summary(summary.scalars_pb(values), global_step=step)
    writer.close()
    return str(tmp_path / "logs")


@pytest.fixture
def toy_registered():
    registry.register(ToySource)
    try:
        yield ToySource
    finally:
        registry.SOURCES.remove(ToySource)


def test_a_registered_source_shows_in_the_runs_and_run_routes(toy_logdir, toy_registered):
    client = make_client(toy_logdir)
    runs = get(client, "runs")["runs"]
    assert runs == [{"run": "toy_run", "group": "", "num_layers": 2,
                     "schedule_source": TOY_SOURCE, "last_step": 20, "framework": "Toy",
                     "source_label": "toy: measured only"}]
    doc = get(client, "run?run=toy_run")
    assert doc["schedule_source"] == TOY_SOURCE
    assert {l["key"]: l["measured"] for l in doc["layers"]} == {
        tag[len(PREFIX):]: [list(p) for p in points] for tag, points in WRITTEN.items()}


def test_without_the_registry_line_the_run_is_not_shown(toy_logdir):
    assert ToySource not in registry.SOURCES
    assert get(make_client(toy_logdir), "runs")["runs"] == []
    assert os.path.isdir(os.path.join(toy_logdir, "toy_run"))
