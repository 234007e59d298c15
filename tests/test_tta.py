"""Test-time augmentation (cifar_common/tta.py): airbench94's six views, weighted to sum to 1."""

import keras
import numpy as np

from cifar_common import tta


def _images(n=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 8, 8, 3)).astype("float32")


def test_the_views_are_upstreams_shifts_and_mirrors_and_weigh_one():
    images = _images()
    views = tta.views(images)
    assert [w for w, _ in views] == [0.25, 0.25, 0.125, 0.125, 0.125, 0.125] and sum(w for w, _ in views) == 1
    (_, same), (_, mirror), (_, down), (_, down_mirror), (_, up), (_, up_mirror) = views
    np.testing.assert_array_equal(same, images)
    np.testing.assert_array_equal(mirror, images[:, :, ::-1])
    np.testing.assert_array_equal(down[:, 1:, 1:], images[:, :-1, :-1])  # moved one pixel down and right
    np.testing.assert_array_equal(down[:, 0, 1:], images[:, 1, :-1])  # the new top row: row 1, reflected
    np.testing.assert_array_equal(up[:, :-1, :-1], images[:, 1:, 1:])  # moved one pixel up and left
    np.testing.assert_array_equal(up[:, -1, :-1], images[:, -2, 1:])
    np.testing.assert_array_equal(down_mirror, down[:, :, ::-1])
    np.testing.assert_array_equal(up_mirror, up[:, :, ::-1])


def test_the_mirror_views_are_the_image_and_its_mirror_at_one_half_each():
    images = _images()
    (w1, same), (w2, mirror) = tta.mirror_views(images)
    assert (w1, w2) == (0.5, 0.5)
    np.testing.assert_array_equal(same, images)
    np.testing.assert_array_equal(mirror, images[:, :, ::-1])


def _conv_net():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.Flatten(), keras.layers.Dense(5)])


def test_a_network_that_ignores_flips_and_shifts_answers_the_same():
    # Images of one colour each are their own mirror and shift: any network must answer as without it.
    colours = np.random.default_rng(1).normal(size=(4, 1, 1, 3)).astype("float32")
    images = np.broadcast_to(colours, (4, 8, 8, 3)).copy()
    model = _conv_net()
    plain = keras.ops.convert_to_numpy(model.predict(images, verbose=0))
    np.testing.assert_allclose(tta.predict(model, images, batch_size=2), plain, rtol=1e-5, atol=1e-6)
    # The same network on varied images does depend on the views.
    varied = _images(4)
    assert not np.allclose(tta.predict(model, varied), keras.ops.convert_to_numpy(model.predict(varied, verbose=0)),
                           atol=1e-3)


def test_the_answers_are_averaged_with_the_weights():
    # For a linear network the weighted average of the answers is the answer for the weighted average view.
    keras.utils.set_random_seed(0)
    linear = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(5)])
    images = _images()
    average_view = sum(w * v for w, v in tta.views(images))
    np.testing.assert_allclose(tta.predict(linear, images),
                               keras.ops.convert_to_numpy(linear.predict(average_view, verbose=0)), rtol=1e-4,
                               atol=1e-5)
