"""What the analysis says of tfmot's logs, in tfmot's words: the sentences of diagnostics and
notes that only tfmot's way of logging explains (it logs at each epoch's start, never the
state after the last epoch; its m:n marker). Pure."""

from tb_sparsity_plugin.run_data import SOURCE_KERAS, SOURCE_NONE
from tb_sparsity_plugin.tfmot.tags import M_BY_N_THRESHOLD


def read_from_tfmot_tags(schedule_source):
    """Whether a run's layers came from tfmot's own tags (not from the plugin's summaries)."""
    return schedule_source in (SOURCE_KERAS, SOURCE_NONE)


def m_by_n_marker():
    return ("m:n structured sparsity (tfmot logs threshold %g for it; which m:n, e.g. 2:4, "
            "is not in PruningSummaries' logs): tfmot sets the mask once at step 1 and ignores "
            "the pruning schedule, so no schedule curve is drawn." % M_BY_N_THRESHOLD)


def final_state_before(last_step, run_last, run_last_source):
    return ("PruningSummaries logs at the start of each epoch: the last record is step %d, "
            "but training ran to step %d (%s). The expected curve shows where the schedule "
            "ends; log with SparsitySummaries to record the final state." % (
                last_step, run_last, run_last_source))


def final_state_unknown(last_step):
    return ("PruningSummaries logs at the start of each epoch, so the state after the last "
            "epoch (after step %d) is not on record. Log with SparsitySummaries to record "
            "it." % last_step)


def steps_per_epoch_from_records(steps_per_epoch, preview):
    return ("%d steps per epoch, from PruningSummaries' epoch-start records (steps %s)"
            % (steps_per_epoch, preview))


STEPS_PER_EPOCH_UNKNOWN = ("the steps per epoch are unknown: no evaluation_*_vs_iterations tag "
                           "in the run's group and no evenly spaced PruningSummaries records")


def after_last_record(count, last_record):
    return ("%d point(s) after the last sparsity record (step %s) use the schedule's expected "
            "whole-model sparsity: PruningSummaries does not log the state after the last "
            "epoch." % (count, last_record if last_record is not None else "none"))
