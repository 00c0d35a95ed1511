"""The long-lived heap policy: a slow full pass freezes what it walked; a later one gives frozen garbage back."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from dashboard import heap


class Node:
    """An object that can sit in a cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: object = self


@pytest.fixture
def policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The policy installed with every full pass counted as slow; automatic passes off; all undone after."""
    monkeypatch.setattr(heap, "SLOW_MS", 0.0)
    was = gc.isenabled()
    gc.disable()
    gc.collect()
    gc.unfreeze()
    heap.freeze_long_lived()
    try:
        yield
    finally:
        gc.callbacks.remove(heap._on_collect)
        gc.unfreeze()
        if was:
            gc.enable()


def test_a_slow_full_pass_freezes_what_it_walked(policy: None) -> None:
    kept = [{"grid": f"PN01-{i}"} for i in range(5000)]
    gc.collect()
    assert heap.installed()
    assert gc.get_freeze_count() >= len(kept)
    young = {id(o) for o in gc.get_objects(2)}
    assert not any(id(o) in young for o in kept[::500])  # a frozen object is walked by no pass


def test_the_next_slow_pass_unfreezes_and_the_one_after_collects_frozen_garbage(policy: None) -> None:
    node = Node()
    watch = weakref.ref(node)
    gc.collect()  # frozen with the rest
    del node  # a cycle: refcounting alone cannot free it
    gc.collect()  # walks none of the frozen heap, then gives it back
    assert watch() is not None and gc.get_freeze_count() == 0
    gc.collect()  # walks everything again: the cycle goes, the rest is frozen anew
    assert watch() is None
    assert gc.get_freeze_count() > 0


def test_a_quick_full_pass_changes_nothing(policy: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "SLOW_MS", 1e9)
    gc.collect()
    assert gc.get_freeze_count() == 0


def test_installing_twice_adds_one_callback(policy: None) -> None:
    heap.freeze_long_lived()
    assert gc.callbacks.count(heap._on_collect) == 1
