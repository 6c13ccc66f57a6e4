"""Training: the loop as named steps, its phases, fast-path features, events, evaluation metrics.

May import data, models and the shared modules; it writes into a run folder it is given but
never imports ``tlcore.runs`` (the job that owns the folder passes in what to call).
"""
