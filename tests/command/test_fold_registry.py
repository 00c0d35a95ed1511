"""Registries in the control fold: built lazily, once per content, the same tree either way.

`ControlState.apply_entry` (what `ControlView` folds from Redis) must give exactly
the state of `apply(decode(...))`; a registry superseded before anything read its
tree is never built; an operation launched between two registries still gets its
targets from the tree of its time.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec
import pytest

from command.events import (
    ModeSwitched,
    OperationLaunched,
    RegistryLoaded,
    UserAdded,
    decode,
    encode,
)
from command.fold import ControlState, forget_trees, tree_from_json, tree_from_rows
from command.generate import province_county
from command.grids import Grid, GridTree
from tests.conftest import make_tree

Entry = tuple[bytes, dict[bytes, bytes]]


def entry(event: Any, ms: int, actor: str = "tester") -> Entry:
    """The stream entry Redis would hand back for `event` (bytes keys and values)."""
    fields = encode(event, actor=actor, at=ms, key=f"k{ms}")
    return f"{ms}-0".encode(), {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}


def registry(tree: GridTree, source: str = "test", geometry: str | None = None) -> RegistryLoaded:
    rows = [{k: v for k, v in r.items() if k != "phone"} for r in tree.rows()]
    return RegistryLoaded(
        county=tree.root,
        grids=tuple(rows),
        central_households=tuple(c.to_row() for c in tree.central_households),
        geometry=geometry,
        source=source,
    )


def fold_raw(entries: list[Entry]) -> ControlState:
    st = ControlState()
    for eid, fields in entries:
        st.apply_entry(eid, fields, "wt:{TC}:log")
    return st


def fold_decoded(entries: list[Entry]) -> ControlState:
    st = ControlState()
    for eid, fields in entries:
        st.apply(decode(eid, fields, "wt:{TC}:log"))
    return st


def same_tree(a: GridTree | None, b: GridTree | None) -> None:
    assert a is not None and b is not None
    assert a == b  # grids, households, children, root, towns, ancestors


TREE = make_tree(towns=2, larges=2, mediums=2, smalls=2, micros=2)
SMALLER = make_tree(towns=1, larges=1, mediums=1, smalls=2, micros=2)


def history(first: GridTree, then: GridTree) -> list[Entry]:
    """A registry, wartime, an operation, a second registry, a user."""
    smalls = first.small_grids(first.root)
    return [
        entry(registry(first, geometry="g1"), 1_000),
        entry(ModeSwitched(first.root, "wartime", "epidemic", "II", "", tuple(first.subtree(first.root)),
                           tuple((s, f"书记{s}") for s in smalls[:-1]), (smalls[-1],)), 2_000),
        entry(OperationLaunched("op1", "mass_testing", first.root, "全员核酸"), 3_000),
        entry(registry(then, source="re-import", geometry="g2"), 4_000),
        entry(UserAdded("u1", "viewer", first.root), 5_000),
    ]


def test_raw_fold_equals_decoded_fold() -> None:
    entries = history(TREE, SMALLER)
    raw, decoded = fold_raw(entries), fold_decoded(entries)
    assert raw == decoded  # the dataclass compares every field, the lazily built tree included
    same_tree(raw.tree, SMALLER)
    assert raw.geometry == "g2" and raw.last_id == "5000-0" and raw.last_at == 5_000
    # The operation took its targets from the registry of its time, not the later one.
    assert raw.operations["op1"].targets[TREE.root] == {"sampled": TREE[TREE.root].population}
    assert len(raw.operations["op1"].targets) == len(TREE)


def test_a_superseded_registry_is_never_built() -> None:
    bad = registry(TREE)
    broken = RegistryLoaded(bad.county, tuple({**r, "level": "no-such-level"} for r in bad.grids))
    entries = [entry(broken, 1_000), entry(registry(SMALLER), 2_000)]
    st = fold_raw(entries)  # building the first tree would raise: it must not be built
    same_tree(st.tree, SMALLER)
    st = fold_decoded(entries)
    same_tree(st.tree, SMALLER)
    only = fold_raw(entries[:1])
    with pytest.raises(ValueError):
        _ = only.tree  # read, the broken registry does fail, as before


def test_the_same_registry_is_built_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    forget_trees()
    builds: list[int] = []
    real = GridTree.build.__func__  # type: ignore[attr-defined]

    def counting(cls: type[GridTree], *args: Any, **kwargs: Any) -> GridTree:
        builds.append(1)
        return real(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(GridTree, "build", classmethod(counting))
    entries = [entry(registry(TREE, source=f"import {i}"), 1_000 * (i + 1)) for i in range(5)]
    first = fold_raw(entries).tree
    second = fold_raw(entries).tree
    assert first is second and len(builds) == 1  # five re-imports, two folds, one build
    same_tree(first, TREE)


def test_typed_decoding_falls_back_to_from_row_for_loose_rows() -> None:
    forget_trees()
    rows = [dict(r) for r in registry(TREE).grids]
    rows[0]["parent"] = ""  # the county: an empty cell, not null
    rows[1]["households"] = str(rows[1]["households"])
    rows[2].pop("leader", None)
    raw = msgspec.json.encode(rows)
    got = tree_from_json(raw)
    same_tree(got, tree_from_rows(rows))
    assert got.root == TREE.root and got[TREE.root].parent is None


def test_decoded_and_raw_registry_give_the_same_generated_county() -> None:
    forget_trees()
    tree, _ = province_county(2, "dongchang", geometry=False)
    entries = [entry(registry(tree), 1_000)]
    raw, decoded = fold_raw(entries), fold_decoded(entries)
    same_tree(raw.tree, decoded.tree)
    same_tree(raw.tree, GridTree.build(
        [Grid.from_row({k: v for k, v in g.to_row().items() if k != "phone"}) for g in tree.grids.values()],
        tree.central_households,
    ))


def test_a_malformed_registry_entry_falls_back_to_the_full_decode() -> None:
    eid, fields = entry(registry(TREE), 1_000)
    fields[b"d"] = b'{"county": 1}'  # no grids: the full decode says what is wrong
    st = fold_raw([(eid, fields)])  # and the fold skips it, marked, rather than dying on it (issue 14)
    assert st.unreadable == [eid.decode()] and st.tree is None


def test_str_keyed_entries_fold_too() -> None:
    eid, fields = entry(registry(TREE, geometry="g"), 1_000)
    st = ControlState()
    st.apply_entry(eid.decode(), {k.decode(): v.decode() for k, v in fields.items()})
    same_tree(st.tree, TREE)
    assert st.geometry == "g"


def test_tree_can_be_set_and_passed_to_the_constructor() -> None:
    st = ControlState(tree=TREE)
    assert st.tree is TREE
    st.apply_entry(*entry(registry(SMALLER), 1_000))
    st.tree = TREE  # a tree put in place (history does) replaces the pending registry
    assert st.tree is TREE
    assert ControlState().tree is None


def test_readers_in_other_threads_see_one_tree_or_the_other() -> None:
    forget_trees()
    st = fold_raw([entry(registry(TREE), 1_000)])
    seen: list[GridTree | None] = []

    def read() -> None:
        for _ in range(50):
            seen.append(st.tree)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        st.apply_entry(*entry(registry(SMALLER if i % 2 else TREE, source=str(i)), 2_000 + i))
    for t in threads:
        t.join()
    assert all(t is not None for t in seen)
    memo = {id(fold_raw(history_of(t)).tree) for t in (TREE, SMALLER)}  # same content: the memo's trees
    assert {id(t) for t in seen} <= memo


def history_of(tree: GridTree) -> list[Entry]:
    """One registry of `tree` (its tree comes from the process's memo once built)."""
    return [entry(registry(tree, source="other"), 9_000)]
