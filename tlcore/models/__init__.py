"""Models: backbone registry and builders, weights, freezing plans, augmentation, classifier.

May import ``tlcore.data`` and the shared top-level modules; never training, runs or results.
"""
