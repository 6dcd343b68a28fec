# Put this directory first on PYTHONPATH to run TensorBoard as a user without TensorFlow
# does (TensorBoard then reads event files with its own stub reader). Faster start-up too.
raise ImportError("TensorFlow hidden by tests/support/no_tensorflow")
