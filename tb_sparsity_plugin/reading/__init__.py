"""Reading TensorBoard's data provider and logdir files, knowing no framework's tags: listings, scalar reads for both loaders, recovery of damaged records, bounded caches."""
