"""Warm-up + cosine learning-rate schedule: the function, its spec, the Keras callback."""

import itertools
import json
import math

import numpy as np
import pytest

from tlcore.training.schedule import (
    WarmupCosine,
    warmup_cosine,
    warmup_cosine_callback,
)


def test_warm_up_is_linear_then_cosine_down_to_the_final_rate():
    lrs = [warmup_cosine(s, total_steps=10, warmup_steps=2, base_lr=1.0) for s in range(12)]
    assert lrs[:3] == [0.5, 1.0, 1.0]
    assert lrs[6] == pytest.approx(0.5)  # half-way through the decay
    assert lrs[6] == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 8)))
    assert lrs[10:] == [0.0, 0.0]
    assert all(a >= b for a, b in itertools.pairwise(lrs[1:]))


def test_no_warm_up_starts_at_the_base_rate_and_a_final_rate_is_kept():
    assert warmup_cosine(0, 4, 0, 0.1) == 0.1
    assert warmup_cosine(4, 4, 0, 0.1, final_lr=0.01) == 0.01


def test_the_spec_covers_a_phase_and_round_trips_through_json():
    spec = WarmupCosine.for_phase(1e-4, epochs=10, steps_per_epoch=7, warmup_epochs=1)
    assert (spec.total_steps, spec.warmup_steps) == (70, 7)
    assert WarmupCosine.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec(6) == pytest.approx(1e-4)


def test_the_callback_sets_the_rate_before_every_batch_and_the_model_saves_plainly(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(1.0), "sparse_categorical_crossentropy")
    spec = WarmupCosine.for_phase(0.1, epochs=2, steps_per_epoch=3, warmup_epochs=1)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(np.asarray(self.model.optimizer.learning_rate)))

    x, y = np.ones((12, 3), np.float32), np.zeros(12, np.int32)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0,
              callbacks=[warmup_cosine_callback(spec), Record()])  # fmt: skip
    assert seen == pytest.approx([spec(s) for s in range(6)], rel=1e-6)
    model.save(tmp_path / "m.keras")
    keras.models.load_model(tmp_path / "m.keras")  # no custom object needed
