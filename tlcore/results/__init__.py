"""Results: what to do with a finished run — predict, explain (Grad-CAM), export, plot.

May import every lower room (data, models, training, runs) and the shared modules.
"""
