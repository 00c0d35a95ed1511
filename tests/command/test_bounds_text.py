"""Text for documents and terminals: what `strip_controls` drops, character by character."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from command.bounds import strip_controls

_KEPT = frozenset("\t\n\r")


def _unshowable(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code < 0xA0 or ch in "\u2028\u2029" or 0xD800 <= code <= 0xDFFF


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xDFFF, exclude_categories=()), max_size=60))
def test_strip_controls_drops_controls_and_lone_surrogates_and_keeps_the_rest(value: str) -> None:
    assert strip_controls(value) == "".join(ch for ch in value if ch in _KEPT or not _unshowable(ch))


def test_strip_controls_keeps_tabs_line_breaks_and_chinese() -> None:
    assert strip_controls("一\t二\r\n三\x00\x1b[31m\x7f\x9f\u2028\ud800四") == "一\t二\r\n三[31m四"
