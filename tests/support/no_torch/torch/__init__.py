# Put this directory first on PYTHONPATH to hide PyTorch (scripts/test.sh --fast: the tests
# that need it are deselected there, and importing it would cost seconds at collection).
raise ImportError("PyTorch hidden by tests/support/no_torch")
