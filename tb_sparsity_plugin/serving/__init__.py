"""The TensorBoard plugin: HTTP routes, their request parameters and the cache of encoded documents."""
