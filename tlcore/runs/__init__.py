"""Runs: the run folder store, the job that trains one spec, the worker process, comparisons.

May import data, models, training and the shared modules; never results, cli or ui.
"""
