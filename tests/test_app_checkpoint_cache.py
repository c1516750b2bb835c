"""The app's checkpoint cache: one full verified load per checkpoint, a changed file is loaded (and verified)
again, least recently used entries go first, and a bad checkpoint raises as an uncached load does."""
from __future__ import annotations

import json
import os

import pytest
import torch

from mfpsn.app.checkpoint_cache import CheckpointCache, named_checkpoint
from mfpsn.checkpoints import CheckpointError, save
from mfpsn.models import build_model


def _save(d, name: str, seed: int = 0):
    torch.manual_seed(seed)
    m = build_model({"arch": "shd_net", "T": 4, "hidden": 8, "neuron": "mfpsn"})
    return save(m, d, name, task="spoken-digits", classes=[f"w{i}" for i in range(20)], input_spec={"T": 4},
                training={}, seed=seed, test_accuracy=0.5, test_samples=2, fixed_subset={"limit": 1, "accuracy": 0.5})


def test_loads_once_and_again_after_a_change(tmp_path):
    card = _save(tmp_path, "a")
    cache = CheckpointCache(4)
    first = cache.load(card)
    assert cache.load(card) is first and cache.loads == 1 and len(cache) == 1
    assert not first.model.training                                           # handed out in eval mode
    _save(tmp_path, "a", seed=1)                                              # retrained in place
    st = card.stat()
    os.utime(card, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    second = cache.load(card)
    assert second is not first and cache.loads == 2 and len(cache) == 1      # the old version was dropped
    assert not torch.equal(next(second.model.parameters()), next(first.model.parameters()))


def test_edited_card_is_refused_not_served_from_the_cache(tmp_path):
    card = _save(tmp_path, "a")
    cache = CheckpointCache(2)
    cache.load(card)
    body = json.loads(card.read_text())
    body["test_accuracy"] = 0.99
    card.write_text(json.dumps(body))
    st = card.stat()
    os.utime(card, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(CheckpointError, match="edited after it was saved"):
        cache.load(card)
    card.unlink()
    with pytest.raises(CheckpointError, match="no model card"):
        cache.load(card)


def test_least_recently_used_goes_first(tmp_path):
    cards = [_save(tmp_path, n) for n in "abc"]
    cache = CheckpointCache(2)
    a = cache.load(cards[0])
    cache.load(cards[1])
    assert cache.load(cards[0]) is a                                          # a is now the most recent
    cache.load(cards[2])                                                      # evicts b
    assert cache.load(cards[0]) is a and cache.loads == 3
    cache.load(cards[1])
    assert cache.loads == 4
    with pytest.raises(ValueError, match="max_items"):
        CheckpointCache(0)


def test_named_checkpoint(tmp_path):
    _save(tmp_path, "a")
    cache = CheckpointCache()
    assert named_checkpoint("a", tmp_path, cache).card["name"] == "a"
    assert named_checkpoint("../x/a", tmp_path, cache).card["name"] == "a"    # a name, never a path
    with pytest.raises(ValueError, match="not found"):
        named_checkpoint("b", tmp_path, cache)
    assert named_checkpoint("a", tmp_path).card["name"] == "a"               # uncached without a cache
