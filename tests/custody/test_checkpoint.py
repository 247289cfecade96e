"""C2SP tlog-checkpoint bodies: the spec example, round trips, one test per bad input."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.checkpoint import MAX_TREE_SIZE, Checkpoint
from custody.errors import NoteFormatError
from custody.note import Note

DATA = Path(__file__).parent / "data" / "c2sp"
ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
ROOT_B64 = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


def body(origin: str = "example.com/log", size: str = "3", root: str = ROOT_B64) -> str:
    return f"{origin}\n{size}\n{root}\n"


def test_spec_example_parses() -> None:
    note = Note.parse((DATA / "tlog-checkpoint-example.note").read_bytes())
    checkpoint = Checkpoint.parse_body(note.text)
    assert checkpoint == Checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    assert checkpoint.body() == note.text


def test_cosigned_spec_example_has_the_same_body() -> None:
    note = Note.parse((DATA / "tlog-cosignature-example.note").read_bytes())
    assert Checkpoint.parse_body(note.text).size == 20852163


def test_empty_tree_has_size_zero() -> None:
    assert Checkpoint.parse_body(body(size="0")).size == 0


def test_largest_uint64_size_is_accepted() -> None:
    assert Checkpoint.parse_body(body(size=str(MAX_TREE_SIZE))).size == MAX_TREE_SIZE


def test_extension_lines_are_parsed_and_kept() -> None:
    text = body() + "ext one\n— not a signature\n"
    checkpoint = Checkpoint.parse_body(text)
    assert checkpoint.extensions == ("ext one", "— not a signature")
    assert checkpoint.body() == text


@pytest.mark.parametrize(
    "size",
    [
        "00",
        "01",
        "007",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1_000",
        "0x10",
        "1e3",
        "",
        "\u0661\u0662",
        "\uff11",
    ],
)
def test_size_that_is_not_a_canonical_ascii_decimal_is_refused(size: str) -> None:
    with pytest.raises(NoteFormatError, match="tree size is invalid"):
        Checkpoint.parse_body(body(size=size))


def test_size_with_leading_zero_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="leading zeros"):
        Checkpoint.parse_body(body(size="020852163"))


def test_negative_size_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="tree size is invalid"):
        Checkpoint.parse_body(body(size="-5"))


def test_size_above_uint64_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="out of range"):
        Checkpoint.parse_body(body(size=str(MAX_TREE_SIZE + 1)))


def test_root_hash_of_31_bytes_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="31 bytes, not 32"):
        Checkpoint.parse_body(body(root=base64.b64encode(ROOT[:31]).decode()))


def test_root_hash_of_33_bytes_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="33 bytes, not 32"):
        Checkpoint.parse_body(body(root=base64.b64encode(ROOT + b"\0").decode()))


@pytest.mark.parametrize(
    "root",
    [
        ROOT_B64.rstrip("="),  # unpadded
        ROOT_B64.replace("/", "_"),  # URL-safe alphabet
        ROOT_B64[:-2] + "J=",  # non-zero padding bits ("I" -> "J")
        " " + ROOT_B64,
        ROOT_B64 + "=",
        ROOT.hex(),
    ],
    ids=["unpadded", "url-safe", "non-canonical", "leading-space", "extra-pad", "hex"],
)
def test_root_hash_that_is_not_canonical_base64_is_refused(root: str) -> None:
    with pytest.raises(NoteFormatError, match="root hash"):
        Checkpoint.parse_body(body(root=root))


def test_fewer_than_three_lines_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="fewer than three lines"):
        Checkpoint.parse_body("example.com/log\n3\n")


def test_missing_final_newline_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="end with a newline"):
        Checkpoint.parse_body(body()[:-1])


def test_empty_origin_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="origin is empty"):
        Checkpoint.parse_body(body(origin=""))


def test_empty_extension_line_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="extension line is empty"):
        Checkpoint.parse_body(body() + "\next\n")


def test_control_character_in_origin_is_refused() -> None:
    with pytest.raises(NoteFormatError, match="control character"):
        Checkpoint.parse_body(body(origin="example.com/\rlog"))


def test_constructor_refuses_what_parse_refuses() -> None:
    with pytest.raises(NoteFormatError, match="out of range"):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(NoteFormatError, match="integer"):
        Checkpoint("o", True, ROOT)
    with pytest.raises(NoteFormatError, match="not 32"):
        Checkpoint("o", 1, ROOT[:16])
    with pytest.raises(NoteFormatError, match="newline or control"):
        Checkpoint("o\n1", 1, ROOT)
    with pytest.raises(NoteFormatError, match="extension line is empty"):
        Checkpoint("o", 1, ROOT, ("",))


_LINE = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters=[chr(c) for c in range(32)]),
    min_size=1,
    max_size=40,
)


@given(
    origin=_LINE,
    size=st.integers(min_value=0, max_value=MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_LINE, max_size=3).map(tuple),
)
def test_property_body_round_trips(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    checkpoint = Checkpoint(origin, size, root, extensions)
    assert Checkpoint.parse_body(checkpoint.body()) == checkpoint
