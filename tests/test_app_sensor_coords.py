"""Frames and point clouds in sensor coordinates, and the camera models' crop stated next to the prediction
(issue 13.3)."""
from __future__ import annotations

import numpy as np

from mfpsn.app import events_view, models_view
from mfpsn.app.bench import synthetic_recording
from mfpsn.app.limits import Limits


def test_a_pooled_frame_spans_the_whole_sensor_in_sensor_pixels():
    ev = synthetic_recording(20_000, 1280, 720)
    fig = events_view.frame_at(ev, 4, 0, Limits(frame_max_side=256))
    hm = fig.data[0]
    h, w = np.asarray(hm.z).shape
    assert (w, h) == (256, 144)
    first, last = hm.x0 - hm.dx / 2, hm.x0 + hm.dx * (w - 1) + hm.dx / 2
    assert (first, last) == (-0.5, 1279.5)                           # x 0–1279, not 0–255
    assert hm.y0 - hm.dy / 2 == -0.5 and hm.y0 + hm.dy * (h - 0.5) == 719.5
    assert fig.layout.xaxis.title.text == "x (sensor pixel)" and "1280 × 720 sensor pooled to 256 × 144" in \
        fig.layout.title.text
    cloud = events_view.load_events(None, "nmnist_digit3.bin", 0, 4)[2]
    assert list(cloud.layout.scene.xaxis.range) == [0, 33] and list(cloud.layout.scene.zaxis.range) == [33, 0]


def test_an_unpooled_frame_draws_one_cell_per_sensor_pixel():
    fig = events_view.load_events(None, "nmnist_digit3.bin", 0, 4)[1]
    hm = fig.data[0]
    assert (hm.x0, hm.dx, hm.y0, hm.dy) == (0, 1, 0, 1) and "pooled" not in fig.layout.title.text


def test_the_camera_models_crop_is_stated_next_to_the_prediction():
    *_, md = models_view.run_model(None, "aedat2_dvs128_digit3_first_saccade.aedat", 0, "dvs_digits_mfpsn", None, 0)
    predicts = md.index("predicts")
    note = md.index("**Model input:** the 128×128 sensor was centre-cropped to the model's 34×34 input: it sees "
                    "sensor x 47–80, y 47–80 only")
    assert predicts < note and " of " in md[note:]
