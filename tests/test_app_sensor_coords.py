"""Frames and point clouds in sensor coordinates, and the camera models' crop stated next to the prediction
(issue 13.3)."""
from __future__ import annotations

import numpy as np

from mfpsn.app import events_view, models_view
from mfpsn.tools.app_bench import synthetic_recording
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


def test_the_model_window_can_be_moved_and_its_tensor_is_shown():
    """Issue 13.3: an ROI picker instead of the silent centre crop, and a preview of the exact tensor."""
    import pytest
    import torch

    from mfpsn.card_inputs import events_input
    from mfpsn.checkpoints import load
    from mfpsn.events import read_events
    from mfpsn.paths import data_dir

    name = "aedat2_dvs128_digit3_first_saccade.aedat"
    ev = read_events(data_dir("assets") / name)
    card = load("dvs_digits_mfpsn").card
    for window, x0, y0, expect in (("at x0, y0", 10, 20, "window cropped to the model's 34×34 input: it sees "
                                                        "sensor x 10–43, y 20–53"),
                                   ("most active", 0, 0, "most-active-window cropped")):
        *_, preview, md = models_view.run_model(None, name, 0, "dvs_digits_mfpsn", None, 0, window=window, x0=x0,
                                                y0=y0)
        assert expect in md and expect in preview.layout.title.text
        notes: list[str] = []
        origin = models_view.window_origin(window, x0, y0)
        x = events_input(ev, card, notes, origin=origin)[:, 0]                 # the tensor the model sees
        assert np.array_equal(np.asarray(preview.data[0].z), x[:, 0].sum(0).numpy())    # ON, summed over T
        assert np.array_equal(np.asarray(preview.data[1].z), x[:, 1].sum(0).numpy())    # OFF
    active = events_input(ev, card, [], origin="active").sum()
    assert active >= events_input(ev, card, [], origin=None).sum()              # the most active window holds most
    with pytest.raises(Exception, match="leaves the 128×128 sensor"):
        models_view.run_model(None, name, 0, "dvs_digits_mfpsn", None, 0, window="at x0, y0", x0=100, y0=0)
    assert torch.is_tensor(x)
