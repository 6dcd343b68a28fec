"""The pure analysis every face shares: run data to the `run` and `schedule` documents, the schedule dispatch, diagnostics, quality against sparsity and CSV exports."""
