"""gRPC length-prefixed framing of the request body h2load sends."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.grpc_frame import decode_frames, encode_frame, grpc_url, write_body


def test_frame_is_flag_length_then_message() -> None:
    """A frame is a 0 flag byte, a 4-byte big-endian length and the message bytes."""
    assert encode_frame(b"abc") == b"\x00\x00\x00\x00\x03abc"
    assert encode_frame(b"") == b"\x00\x00\x00\x00\x00"
    assert encode_frame(b"x", compressed=True)[:1] == b"\x01"


@given(st.lists(st.binary(max_size=300), max_size=5))
def test_frames_round_trip(messages: list[bytes]) -> None:
    """Concatenated frames decode back to the same messages, in order."""
    body = b"".join(encode_frame(m) for m in messages)
    assert decode_frames(body) == messages


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x00\x00",  # header cut short
        b"\x00\x00\x00\x00\x05abc",  # message cut short
        b"\x02\x00\x00\x00\x00",  # flag neither 0 nor 1
        b"\x01\x00\x00\x00\x01x",  # compressed: not supported
    ],
)
def test_bad_bodies_are_refused(body: bytes) -> None:
    """Truncated, ill-flagged or compressed frames raise instead of decoding garbage."""
    with pytest.raises(ValueError):
        decode_frames(body)


def test_body_file_holds_one_frame_of_the_message(tmp_path) -> None:
    """The body file is exactly one frame of the serialized request."""
    path = write_body(tmp_path / "sub" / "route.body", b"\x0a\x03abc")
    data = path.read_bytes()
    assert struct.unpack(">BI", data[:5]) == (0, 5)
    assert decode_frames(data) == [b"\x0a\x03abc"]


def test_grpc_url_names_the_full_method() -> None:
    """h2load's target URL is the server address plus the /package.Service/Method path."""
    url = grpc_url("127.0.0.1:5", "/switchyard.router.v1.RouterService/Route")
    assert url == "http://127.0.0.1:5/switchyard.router.v1.RouterService/Route"
    assert grpc_url("h:1", "pkg.S/M") == "http://h:1/pkg.S/M"
