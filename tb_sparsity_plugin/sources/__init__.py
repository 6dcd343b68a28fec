"""Sources: each kind of logs a run may hold, turned into pruned layers with their schedules, in a registry (registry.py) that the reader asks in order instead of branching.

A source is one module with one interface:
  LABELS                      {schedule_source: what the dashboard and the report say of a
                              run whose schedules came from there}
  claims(scalar_tags, own_tags) -> bool
                              whether a run may be the source's, from its listing: its scalar
                              tags and this plugin's own tensor tags (cheap: every listing of
                              the runs route and every fingerprint asks)
  is_sparsity_tag(tag) -> bool
                              the source's own series, which are not quality metrics
  Reading(reads)              its reads of runs through reading/provider_reads.ProviderReads:
    .summarize(ctx, experiment_id, run, listing) -> [RunSummary] | DECLINED | READ_FIRST
    .summarize_read(ctx, experiment_id, run, listing, data) -> [RunSummary]
                              (only for a source that answers READ_FIRST)
    .read(ctx, experiment_id, run, listing, thresholds, index, skipped, problems)
                              -> RunData | None | DECLINED
                              `index`: which of several trainings in one run directory (None:
                              the last; a source whose runs hold one answers None for any
                              other); `skipped` counts dropped points by reason; `problems`
                              gathers sentences about the logs from the sources asked before.

plans.py holds what they share: a run's plan before its series are read, DECLINED and
READ_FIRST, and the key that lines a layer up across runs.

The sources (first claim first):
  own.py            the plugin's own config summary (metadata.py, docs/summary_format.md),
                    written by every writer and callback of this package
  tfmot/source.py   tfmot's mask sparsity tags, schedules from the Keras model config;
                    also the fallback for a run whose own config summary is damaged
  tools.py          the tags SparseML, Distiller and NNCF write (measured levels, no schedule)

Adding a source: a module with the interface above, and one line in registry.SOURCES (or
`registry.register`, e.g. from a test). docs/adding_a_framework.md walks through it.
"""
