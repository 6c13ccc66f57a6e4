"""Inspect a dataset through the frozen network's eyes: likely label mistakes,
near-duplicates by content, outliers and a 2-D map, all from one pass of the images
through the pretrained network (its pooled last-layer features, cached like a run's).

``report.inspect_dataset`` runs it all; each finding is its own module.
"""
