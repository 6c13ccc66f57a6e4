"""The solved head of a run on multi-layer features: extract once, choose, wire in.

Called by the solve phase (``tlcore.training.phase_fit``) when ``head_features`` is not
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

from tlcore.training import features, head_candidates, multilayer, nearest_mean
from tlcore.training.head_choice import FeatureChoice, pick, reason


def applies(config: Any, phases: int) -> bool:
    """Multi-layer features are considered for this run (its only phase is the solve)."""
    return getattr(config, "head_features", "last") != "last" and phases == 1


def _raw_features(
    s: Any, extractor: Any, taps: list[str], data: dict, view: str = ""
) -> dict[str, np.ndarray]:
    """The pooled features of the splits in ``data`` (of the mirror images with ``view``
    ``mirror``), from the cache when it has them.

    Raises:
        StopRequested: a stop was asked for while they were computed.
    """
    from tlcore.training.inputs import cached_features

    before = [layer for layer in s.model.layers[1:] if layer.name != "augmentation"]
    before = before[: [layer.name for layer in before].index("backbone") + 1]
    digest = features.weights_digest(before, f"multilayer{view}:" + ",".join(taps))
    cut = features.Cut("multilayer" + view, extractor, None, digest)
    feats = cached_features(cut, data, s.config, s.size, s.log, s.should_stop)
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


def _mirrored(extractor: Any) -> Any:
    """``extractor`` applied to the mirror image (for features only; never saved)."""
    import keras

    inputs = keras.Input(extractor.inputs[0].shape[1:], name="image")
    flipped = keras.layers.Lambda(lambda t: keras.ops.flip(t, axis=2), name="mirror")(inputs)
    return keras.Model(inputs, extractor(flipped), name="mirrored_extractor")


def _choose(s: Any, raw: dict, last: dict, mirror_train: Any, widths: list[int], n_layers: int):
    """Cross-validate every candidate on the training images; the kept ``Scored`` and all
    scores (``head_candidates``)."""
    from tlcore.training.crossval import fold_count

    labels = s.data["train"][1]
    k = len(s.classes)
    counts = np.bincount(labels, minlength=k)
    smallest = int(counts[counts > 0].min())
    folds = s.config.cv_folds if s.config.cross_validate else fold_count(counts[counts > 0])
    cands = head_candidates.candidates(n_layers, smallest, mirror_train is not None)
    scored, rows = [], {}
    for i, cand in enumerate(cands):
        s.log.emit(
            "prepare", stage="choose-features", done=i, total=len(cands),
            message=f"Cross-validating {cand.describe()}…",
        )  # fmt: skip
        same = (cand.features, cand.views)  # the heads on one feature set share its rows
        if same not in rows:
            rows[same] = train_rows(cand, raw["train"], last["train"], mirror_train, widths)
        x = rows[same]
        scored.append(
            head_candidates.cross_validate(
                cand, x, labels, k, folds, class_weight=s.class_weight, seed=s.config.seed
            )
        )
    kept = pick([c.score for c in scored])
    return next(c for c in scored if c.score is kept), [c.score for c in scored]


def train_rows(cand: Any, raw: Any, last: Any, mirror: Any, widths: list[int]) -> np.ndarray:
    """A candidate's training features: scaled as the final model would scale them."""
    if cand.features == "last":
        return last
    x = (raw + mirror) / 2 if cand.views else raw
    mean, scale = multilayer.group_scaling(x, widths)
    return ((x - mean) / scale).astype(np.float32)


def solve(s: Any, progress: Any) -> Any:
    """Solve the head on the features ``s.config.head_features`` asks for; return the
    ``HeadFit`` (already written into the session's model) and set ``s.head_choice``."""
    from tlcore.models.classifier import backbone_of
    from tlcore.models.freezing import param_counts
    from tlcore.models.multilayer_head import build_multilayer_classifier
    from tlcore.training.head_candidates import Candidate
    from tlcore.training.head_solver import solve_head, write_into_dense

    backbone = backbone_of(s.model)
    taps = multilayer.tap_layers(backbone)
    names = (backbone.layers[-1].name, *taps)
    extractor, widths = multilayer.extractor(s.model, taps)
    raw = _raw_features(s, extractor, taps, s.data)
    last = {k: np.ascontiguousarray(v[:, : widths[0]]) for k, v in raw.items()}
    if s.cut is not None and s.config.use_cache:  # a last-layer run on these images: reused
        for name, (_images, _labels, paths) in s.data.items():
            if len(paths):
                features.store_features(s.cut, paths, s.size, s.config.resize_mode, last[name])
    labels = s.data["train"][1]
    k = len(s.classes)
    wanted = s.config.head_features if taps else "last"
    counts = np.bincount(labels, minlength=k)
    mirror = mirrored = None
    scores: list = []
    kept = None
    if wanted == "auto" and counts[counts > 0].min() >= 2:
        if s.config.head_views == "auto":
            mirrored = _mirrored(extractor)  # built once: the training images, then the rest
            train_only = {"train": s.data["train"]}
            mirror = _raw_features(s, mirrored, taps, train_only, "mirror")
        kept, scores = _choose(s, raw, last, mirror and mirror["train"], widths, len(names))
        chosen = kept.candidate
    else:  # auto without CV: as before
        multi_asked = wanted == "multi"
        chosen = Candidate("multi", len(names)) if multi_asked else Candidate("last", 1)
    if chosen.views:  # every split's mirror features, for the evaluation
        rest = {n: v for n, v in s.data.items() if n != "train"}
        mirror = {**mirror, **_raw_features(s, mirrored, taps, rest, "mirror")}
        raw = {n: (v + mirror[n]) / 2 for n, v in raw.items()}
    mean, scale = multilayer.group_scaling(raw["train"], widths)
    multi = {n: ((v - mean) / scale).astype(np.float32) for n, v in raw.items()}
    feats = multi if chosen.features == "multi" else last
    if chosen.head == "nearest-mean":
        head, seconds = nearest_mean.solve(multi["train"], labels, k, kept.temperature)
        fit = nearest_mean.as_head_fit(head, len(labels), seconds, kept.oof)
        mean = mean + head.centre * scale  # the pool centres on the head's centre too
        feats = {n: nearest_mean.unit(v - head.centre).astype(np.float32) for n, v in multi.items()}
    else:
        fit = solve_head(
            feats["train"], labels, k, class_weight=s.class_weight, seed=s.config.seed,
            progress=progress,
        )  # fmt: skip
    if chosen.features == "multi":
        with s.strategy.scope():
            model = build_multilayer_classifier(
                s.model, list(taps), mean, scale, s.config.seed,
                unit_length=chosen.head == "nearest-mean",
            )  # fmt: skip
            if chosen.views:
                from tlcore.models.mirrored_views import with_mirrored_views

                model = with_mirrored_views(model)
        s.model = model
        s.keeper.source = model
        s.cut = _pool_cut(model)
        s.counts = param_counts(model)
        s.status(trainable_params=s.counts[0])  # the wider Dense (announced before)
    write_into_dense(s.model.get_layer("predictions"), fit)
    s.feats = feats
    s.head_oof = kept.oof if kept is not None and s.config.cross_validate else None
    if scores:
        why = reason(kept.score, scores)
    elif chosen.features == "multi":
        why = f"Features from {len(names)} layers, as asked."
    else:
        why = "Features from the last layer alone."
    s.head_choice = FeatureChoice(
        chosen.features, names if chosen.features == "multi" else names[:1], why,
        tuple(scores), chosen.head, chosen.views,
    )  # fmt: skip
    return fit
