"""Developer tools: generators whose output is committed (run them by hand, not in the pipeline)."""
