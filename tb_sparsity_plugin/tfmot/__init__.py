"""Everything that knows tfmot and tf-keras: its tags, Keras model configs, several trainings in one run directory, its schedules' math and the `SparsitySummaries` callback.

Importing this package or its pure modules never imports TensorFlow; only callback.py does.
"""
