"""The solved head of a run on multi-layer features: extract once, choose, wire in.

Called by the loop's solve phase (``tlcore.training.loop``) when ``head_features`` is not
``last`` and the solved head is the run's only phase (a fine-tuning phase after it would
retrain the backbone under a head that reads several of its layers). Steps:

1. one pass over every split computes the pooled last layer and tapped layers
   (``multilayer.extractor``), cached like the fast path's features; the last layer's
   slice is also stored where a last-layer run would look for it;
2. the groups are scaled on the training images (``multilayer.group_scaling``);
3. with ``auto``, each candidate is cross-validated (``head_choice``) and the better kept;
4. the head is solved on the chosen features; for ``multi`` the classifier is rebuilt
   around the same layers (``multilayer_head``) and the session's model, cut and cached
   features now describe that model, so evaluation and saving work on it unchanged.
"""

from typing import Any

import numpy as np

from tlcore.training import features, multilayer
from tlcore.training.head_choice import FeatureChoice, pick, reason, score


def applies(config: Any, phases: int) -> bool:
    """Multi-layer features are considered for this run (its only phase is the solve)."""
    return getattr(config, "head_features", "last") != "last" and phases == 1


def _raw_features(s: Any, extractor: Any, taps: list[str]) -> dict[str, np.ndarray]:
    """The pooled features of every split, from the cache when it has them.

    Raises:
        StopRequested: a stop was asked for while they were computed.
    """
    from tlcore.training.inputs import cached_features

    before = [layer for layer in s.model.layers[1:] if layer.name != "augmentation"]
    before = before[: [layer.name for layer in before].index("backbone") + 1]
    digest = features.weights_digest(before, "multilayer:" + ",".join(taps))
    cut = features.Cut("multilayer", extractor, None, digest)
    feats = cached_features(cut, s.data, s.config, s.size, s.log, s.should_stop)
    return {name: np.asarray(v) for name, v in feats.items()}


def _pool_cut(model: Any) -> features.Cut:
    """The multi-layer classifier cut after its ``pool``, as the fast path cuts the plain
    one (``features.plan_cut`` reads ``pool.output``, which for a nested model is its
    inner tensor, not the classifier's)."""
    import keras

    names = [layer.name for layer in model.layers]
    x = model.inputs[0]
    for name in names[1 : names.index(features.POOL) + 1]:
        x = model.get_layer(name)(x)
    extractor = keras.Model(model.inputs, x, name="extractor")
    inputs = keras.Input(x.shape[1:], name="features")
    y = inputs
    for name in names[names.index(features.POOL) + 1 :]:
        y = model.get_layer(name)(y)
    return features.Cut(features.POOL, extractor, keras.Model(inputs, y, name="head"), "")


def solve(s: Any, progress: Any) -> Any:
    """Solve the head on the features ``s.config.head_features`` asks for; return the
    ``HeadFit`` (already written into the session's model) and set ``s.head_choice``."""
    from tlcore.models.classifier import backbone_of
    from tlcore.models.freezing import param_counts
    from tlcore.models.multilayer_head import build_multilayer_classifier
    from tlcore.training.crossval import fold_count
    from tlcore.training.head_solver import out_of_fold, solve_head, write_into_dense

    backbone = backbone_of(s.model)
    taps = multilayer.tap_layers(backbone)
    names = (backbone.layers[-1].name, *taps)
    extractor, widths = multilayer.extractor(s.model, taps)
    raw = _raw_features(s, extractor, taps)
    last = {k: np.ascontiguousarray(v[:, : widths[0]]) for k, v in raw.items()}
    if s.cut is not None and s.config.use_cache:  # a last-layer run on these images: reused
        for name, (_images, _labels, paths) in s.data.items():
            if len(paths):
                features.store_features(s.cut, paths, s.size, s.config.resize_mode, last[name])
    labels = s.data["train"][1]
    mean, scale = multilayer.group_scaling(raw["train"], widths)
    multi = {k: ((v - mean) / scale).astype(np.float32) for k, v in raw.items()}
    k = len(s.classes)
    wanted = s.config.head_features if taps else "last"
    counts = np.bincount(labels, minlength=k)
    scores, oofs = [], {}
    if wanted == "auto" and counts[counts > 0].min() >= 2:
        folds = s.config.cv_folds if s.config.cross_validate else fold_count(counts[counts > 0])
        candidates = (("multi", multi, len(names)), ("last", last, 1))  # preferred first
        for i, (name, feats, n_layers) in enumerate(candidates):
            s.log.emit(
                "prepare", stage="choose-features", done=i, total=len(candidates),
                message=f"Cross-validating the head on features from {n_layers} layer(s)…",
            )  # fmt: skip
            oof = out_of_fold(
                feats["train"], labels, k, folds, class_weight=s.class_weight, seed=s.config.seed
            )
            oofs[name] = oof
            scores.append(score(name, n_layers, feats["train"], labels, oof))
        chosen = pick(scores).features
    else:
        chosen = "multi" if wanted == "multi" else "last"  # auto without CV: as before
    feats = multi if chosen == "multi" else last
    fit = solve_head(
        feats["train"], labels, k, class_weight=s.class_weight, seed=s.config.seed,
        progress=progress,
    )  # fmt: skip
    if chosen == "multi":
        with s.strategy.scope():
            model = build_multilayer_classifier(s.model, list(taps), mean, scale, s.config.seed)
        s.model = model
        s.keeper.source = model
        s.cut = _pool_cut(model)
        s.counts = param_counts(model)
        s.status(trainable_params=s.counts[0])  # the wider Dense (announced before)
    write_into_dense(s.model.get_layer("predictions"), fit)
    s.feats = feats
    s.head_oof = oofs.get(chosen) if s.config.cross_validate else None
    by_name = next((c for c in scores if c.features == chosen), None)
    why = (
        reason(by_name, scores)
        if scores
        else f"Features from {len(names)} layers, as asked."
        if chosen == "multi"
        else "Features from the last layer alone."
    )
    s.head_choice = FeatureChoice(
        chosen, names if chosen == "multi" else names[:1], why, tuple(scores)
    )
    return fit
