"""Events: every type has a stable wire name and survives encode → decode unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from command.events import (
    EVENT_TYPES,
    AlertRaised,
    Event,
    ModeSwitched,
    OperationLaunched,
    ProgressReported,
    RegistryLoaded,
    SecretaryAppointed,
    Unreadable,
    decode,
    encode,
)

SAMPLES: list[Event] = [
    RegistryLoaded(county="PN", grids=({"code": "PN", "name": "平南县"},), geometry="abc", source="grids.csv"),
    ModeSwitched(
        scope="PN",
        mode="wartime",
        incident="flood",
        level="II",
        reason="汛情",
        grids=("PN", "PN01"),
        installed=(("PN01-S1", "张三"),),
        vacancies=("PN01-S2",),
    ),
    SecretaryAppointed(grid="PN01-S2", person="李四"),
    OperationLaunched(
        operation="op1", kind="mass_testing", scope="PN", name="全员核酸", deadline=1, targets={"PN01": {"sampled": 5}}
    ),
    ProgressReported(operation="op1", grid="PN01-S1", counts={"sampled": 12}, report_id="r-1", note="<b>x</b>"),
    AlertRaised(alert="a1", kind="stall", grid="PN01", operation="op1", detail={"minutes": 30}),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.wire)
def test_event_survives_encode_and_decode(event: Event) -> None:
    fields = encode(event, actor="boss", at=123, key="k1")
    rec = decode("5-1", {k.encode(): v if isinstance(v, bytes) else str(v).encode() for k, v in fields.items()})
    assert rec.event == event
    assert (rec.id, rec.actor, rec.at, rec.key, rec.ms) == ("5-1", "boss", 123, "k1", 5)


def test_wire_names_are_unique_and_versioned() -> None:
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES.values()))
    for wire, cls in EVENT_TYPES.items():
        assert cls.wire == wire and cls.version >= 1


def test_an_entry_no_event_type_takes_decodes_as_unreadable_naming_why() -> None:
    """Readers skip it instead of dying on it for good (issue 14 item 2)."""
    rec = decode("1-0", {b"t": b"meteor_struck", b"d": b"{}"})
    assert isinstance(rec.event, Unreadable) and "meteor_struck" in rec.event.reason
    for fields in ({b"t": b"operation_launched", b"d": b"{}"}, {b"t": b"operation_launched", b"d": b"not json"},
                   {b"t": b"alert_raised", b"d": b'{"alert": "a\xff"}'}, {b"t": b"alert_cleared", b"d": b"[1]"},
                   {b"t": b"alert_cleared", b"d": b'{"alert": "x"}', b"at": b"soon", b"a": b"\xff"}):
        rec = decode("2-0", fields)
        assert isinstance(rec.event, Unreadable) or rec.at == 0, fields


def test_encoding_is_deterministic() -> None:
    ev = OperationLaunched(
        operation="op1", kind="mass_testing", scope="PN", name="x", targets={"b": {"sampled": 1}, "a": {"sampled": 2}}
    )
    assert encode(ev, actor="a", at=1)["d"] == encode(ev, actor="a", at=1)["d"]


@given(
    counts=st.dictionaries(st.text(min_size=1, max_size=12), st.integers(-(2**40), 2**40), max_size=5),
    note=st.text(max_size=30),
    reason=st.text(max_size=10),
)
def test_a_report_encodes_to_the_same_bytes_as_its_field_dictionary(
    counts: dict[str, int], note: str, reason: str
) -> None:
    from command.events import _json_encode, _payload

    ev = ProgressReported(operation="op1", grid="PN01-S1", counts=counts, report_id="r-1", note=note, reason=reason)
    assert encode(ev, actor="a", at=1)["d"] == _json_encode(_payload(ev))


def test_a_report_without_a_location_has_the_bytes_it_had_before_the_field_existed() -> None:
    """A report queued on a phone before `location` was added digests the same when sent after."""
    from command.events import ProgressReported, encode

    ev = ProgressReported(operation="op-1", grid="PN01-01", counts={"sampled": 3}, report_id="r1",
                          note='a "location":null, in a note')
    assert encode(ev, actor="", at=0)["d"] == (
        b'{"counts":{"sampled":3},"grid":"PN01-01","note":"a \\"location\\":null, in a note",'
        b'"operation":"op-1","reason":"","report_id":"r1"}'
    )
    placed = ProgressReported(operation="op-1", grid="PN01-01", counts={"sampled": 3}, report_id="r1",
                              location=(23.5, 110.4, 30.0))
    assert b'"location":[23.5,110.4,30.0]' in encode(placed, actor="", at=0)["d"]
