"""Reading tfmot runs: several trainings in one run directory and each one's Keras model config.

The tfmot source's reads (source.py registers it): a run directory may hold several `fit`s
(trainings.py tells them apart, run_files.py reads the local event files), each with the
Keras model config written before it in the sibling `train` run. I/O and caching only,
through the reads the reader hands it (reading/provider_reads.py).
"""

from tb_sparsity_plugin.reading import cache
from tb_sparsity_plugin.reading.provider_listing import MODEL_CONFIG_PLUGIN
from tb_sparsity_plugin import run_data
from tb_sparsity_plugin.run_data import SOURCE_KERAS, SOURCE_NONE, RunSummary, run_group
from tb_sparsity_plugin.sources.plans import READ_FIRST
from tb_sparsity_plugin.tfmot import keras_config
from tb_sparsity_plugin.tfmot import run_files
from tb_sparsity_plugin.tfmot import tags as tfmot_tags
from tb_sparsity_plugin.tfmot import trainings


class TfmotReading:
    """The tfmot source's reads of runs (sources/__init__.py says the interface)."""

    # Models' wrappers by their estimated size (4 x their repr: Python's objects), within
    # half of the plugin's cache bound (cache.cache_bytes: 32 MB by default, every run of a
    # 200-run logdir of 30-layer models, ~8 MB); fewer than that and each run's read would
    # fetch its model config again (two round trips to the data server).
    MODEL_SHARE = 0.5

    def __init__(self, reads):
        self._reads = reads
        # {wrapper: info} | problem sentence, checked against the model config's listing
        self._models = cache.BoundedCache(max_bytes=int(cache.cache_bytes() * self.MODEL_SHARE))

    def summarize(self, ctx, experiment_id, run, listing):
        """[RunSummary] of the run from its listing; READ_FIRST when it may hold several
        trainings (then `summarize_read` says, from the run read)."""
        tags = listing.scalars.get(run, {})
        mask_tags = list(tfmot_tags.match_tags(tags))
        if self._may_hold_trainings(run, [tags[t] for t in mask_tags]):
            return READ_FIRST
        return self._one_summary(ctx, experiment_id, run, listing, mask_tags)

    def summarize_read(self, ctx, experiment_id, run, listing, data):
        """[RunSummary]: one per training when `data` (the run read) holds several."""
        if data is not None and data.training:
            return [RunSummary(run_data.run_name(run, i), run_group(run), n, data.source, step,
                               "tfmot")
                    for i, (n, step) in enumerate(data.trainings_listed, start=1)]
        tags = listing.scalars.get(run, {})
        return self._one_summary(ctx, experiment_id, run, listing,
                                 list(tfmot_tags.match_tags(tags)))

    def _one_summary(self, ctx, experiment_id, run, listing, mask_tags):
        tags = listing.scalars.get(run, {})
        wrappers, _ = self._model_wrappers(ctx, experiment_id, run, listing.models)
        source = SOURCE_KERAS if wrappers else SOURCE_NONE
        last = max((int(tags[t].max_step) for t in mask_tags if t in tags), default=0)
        return [RunSummary(run, run_group(run), len(mask_tags), source, last, "tfmot")]

    def read(self, ctx, experiment_id, run, listing, thresholds, index, skipped, problems):
        return self._read_tfmot(ctx, experiment_id, run, listing, thresholds, index, skipped,
                                problems)

    def _may_hold_trainings(self, run, metas):
        """Whether a tfmot run may hold several trainings, from its listing: its tags
        stopped at different times, or (local logdir) it has several event files. Only
        then are its series read to list its trainings."""
        walls = [m.max_wall_time for m in metas]
        spread = max(walls) - min(walls) if walls else 0.0
        return spread > trainings.SAME_MOMENT_SECONDS or len(self._reads.event_files(run)) > 1

    def _read_tfmot(self, ctx, experiment_id, run, listing, thresholds, index, skipped,
                    problems):
        """RunData of tfmot's tags; with several trainings in the run (trainings.py), of
        training `index` (1-based; None: the last), or None when there is no such one."""
        tags = listing.scalars.get(run, {})
        group = run_group(run)
        matched = tfmot_tags.match_tags(tags)
        wanted = list(matched) + ([t for _, t in matched.values() if t] if thresholds else [])
        file_starts = [trainings.file_start(p) for p in self._reads.event_files(run)]
        # Each `fit` opens its own event file: one file (local logdir), one training.
        several = len(file_starts) != 1
        raw = self._reads.scalars(ctx, experiment_id, run, wanted, skipped, walls=several)
        split = (trainings.split_trainings(raw, file_starts) if several
                 else trainings.one_training(raw))
        count = len(split.trainings)
        if index is not None and not (count > 1 and 1 <= index <= count):
            return None
        chosen = split.trainings[(index or count) - 1] if count > 1 else None
        series = split.trainings[(index or count) - 1].series
        if chosen is not None:
            tags = {t: m for t, m in tags.items() if not tfmot_tags.is_sparsity_tag(t) or t in series}
        wrappers, problem, matched_by = self._training_wrappers(
            ctx, experiment_id, run, listing.models, chosen,
            {w for t, (w, _) in matched.items() if t in tags})
        plan = tfmot_tags.plan_layers(tags, wrappers, problems + ([problem] if problem else []))
        data = tfmot_tags.build_run(plan, run, group, series, skipped, thresholds, listing.scalars)
        # tfmot's m:n marker is in the threshold series: its last value is enough.
        markers = series if thresholds else self._reads.last_scalars(
            ctx, experiment_id, run, [p.threshold_tag for p in plan.layers if p.threshold_tag],
            tfmot_tags.THRESHOLD_TAG)
        for p, layer in zip(plan.layers, data.layers):
            layer.m_by_n_marker = tfmot_tags.m_by_n_marker(markers.get(p.threshold_tag))
        data.trainings_problem = split.problem
        # Each `fit` opens its own event file: more files than trainings found may mean
        # trainings on the same tags that the Rust loader dropped (or one resumed run).
        data.unsplit_files = max(len(file_starts) - count, 0)
        if chosen is None:
            return data
        data.run = run_data.run_name(run, index or count)
        data.training = {"index": index or count, "count": count, "how": split.how,
                         "config_matched_by": matched_by}
        data.trainings_listed = [(sum(map(tfmot_tags.is_sparsity_tag, t.tags)), t.last_step)
                                 for t in split.trainings]
        data.training_last_step, data.training_last_step_source = self._training_last_step(
            ctx, experiment_id, group, listing.scalars, split.trainings, index or count)
        return data

    def _training_wrappers(self, ctx, experiment_id, run, models, chosen, wrapper_names):
        """(wrappers, problem or None, how the config was matched or None) of the Keras
        model config that belongs to the training read.

        With several trainings, or several configs in the local event files of `train`,
        the config whose wrapper names match, written last before the training
        (trainings.config_for); else the one the data provider keeps.
        """
        configs = self._file_configs(run, models)
        if chosen is None and len(configs) <= 1:
            wrappers, problem = self._model_wrappers(ctx, experiment_id, run, models)
            return wrappers, problem, None
        if not configs:  # a remote logdir: the provider's config, matched by names only
            wrappers, problem = self._model_wrappers(ctx, experiment_id, run, models)
            if not wrappers:
                return {}, problem, None
            configs = [(float("-inf"), wrappers)]
        start = chosen.start if chosen is not None else float("inf")
        found, matched_by = trainings.config_for(wrapper_names, start, configs)
        if found is None:
            return {}, "no Keras model config was written before this training", None
        return configs[found][1], None, matched_by

    def _file_configs(self, run, models):
        """[(wall_time, wrappers)] of every Keras model config in the local event files of
        the runs next to `run` that hold one (`train`)."""
        if isinstance(models, str):
            return []
        out = []
        for candidate in tfmot_tags.model_config_runs(models, run):
            out += run_files.keras_model_wrappers(self._reads.event_files(candidate))
        return sorted(out, key=lambda c: c[0])

    def _training_last_step(self, ctx, experiment_id, group, scalars, found, index):
        """(last step, source) of training `index` of `found` from the
        `evaluation_*_vs_iterations` records between its start and the next training's
        (from the local event files, where the Rust loader kept only the last training's;
        else from the provider)."""
        for run, tags in sorted(scalars.items()):
            if run_group(run) != group:
                continue
            for tag in sorted(tags):
                if not (tag.startswith("evaluation_") and tag.endswith("_vs_iterations")):
                    continue
                paths = self._reads.event_files(run)
                if paths:
                    points = run_files.scalar_points(paths, [tag])
                else:
                    read = self._reads.scalars(ctx, experiment_id, run, [tag], {}, walls=True)
                    points = [(p[0], p[2]) for p in read.get(tag, [])]
                last = trainings.last_steps(found, points)[index - 1]
                if last is not None:
                    return last, "%s in run %r, training %d" % (tag, run, index)
        return None, None

    def _model_wrappers(self, ctx, experiment_id, run, models):
        """(tfmot wrappers from a sibling run's Keras model config, problem sentence or None).

        `models` is Listing.models.
        """
        if isinstance(models, str):
            return {}, models
        problem = None
        for candidate in tfmot_tags.model_config_runs(models, run):
            meta = models[candidate][keras_config.TAG]
            fingerprint = (meta.max_step, meta.max_wall_time)
            key = (experiment_id, candidate)
            wrappers = self._models.get(key, fingerprint)
            if wrappers is None:  # only the wrappers are kept: a model config is ~10x bigger
                model = self._reads.last_blob_json(ctx, experiment_id, candidate,
                                                   MODEL_CONFIG_PLUGIN, keras_config.TAG)
                wrappers = (model if isinstance(model, str)
                            else keras_config.wrappers_in_model_config(model))
                self._models.put(key, wrappers, fingerprint, 4 * len(repr(wrappers)))
            if isinstance(wrappers, str):
                problem = "the Keras model config in run %r is unusable: %s" % (candidate, wrappers)
                continue
            if wrappers:
                return wrappers, None
            problem = "the Keras model config in run %r has no PruneLowMagnitude wrapper" % candidate
        return {}, problem
