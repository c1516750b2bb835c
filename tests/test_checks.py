"""The shared argument checks and the channel view (:mod:`mfpsn._checks`)."""
from __future__ import annotations

import pytest
import torch

from mfpsn._checks import (channel_view, check_choice, check_optional_int, check_positive_int, check_positive_number,
                           check_unit_interval)


def test_checks_return_what_they_accept():
    assert check_positive_int(3, "k", "X") == 3
    assert check_optional_int(None, "e", "X") is None and check_optional_int(-2, "e", "X") == -2
    assert check_choice("a", "mode", ("a", "b"), "X") == "a"
    assert check_positive_number(2, "eps", "X") == 2.0
    assert check_unit_interval(0, "momentum", "X") == 0.0


@pytest.mark.parametrize("call, message", [
    (lambda: check_positive_int(True, "k", "X"), r"X: expected k to be an int >= 1, found True"),
    (lambda: check_positive_int(0, "k", "X"), r"found 0"),
    (lambda: check_optional_int(1.5, "e", "X"), r"X: expected e to be an int or None, found 1.5"),
    (lambda: check_choice("c", "mode", ("a", "b"), "X"), r"X: expected mode in \('a', 'b'\), found 'c'"),
    (lambda: check_positive_number(float("inf"), "eps", "X"), r"X: expected eps > 0, found inf"),
    (lambda: check_unit_interval(1.5, "momentum", "X"), r"X: expected momentum in \[0, 1\], found 1.5"),
])
def test_checks_name_who_what_and_found(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_channel_view():
    v = torch.arange(3.0)
    assert channel_view(v, 5).shape == (1, 1, 3, 1, 1)
    assert channel_view(v, 4, dim=0).shape == (3, 1, 1, 1)
    assert channel_view(v, 3, dim=1).shape == (1, 3, 1)
    x = torch.ones(2, 4, 3, 5)
    assert torch.equal((x * channel_view(v, 4))[1, 2, :, 4], v)
