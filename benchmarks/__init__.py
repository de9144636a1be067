"""Benchmarks of the pipeline's S3 costs (``make bench``); not part of ``make test``."""
