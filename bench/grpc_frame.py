"""gRPC on the wire, as far as the load generator needs it.

h2load knows HTTP/2, not gRPC: it POSTs a fixed body. A unary gRPC request body is one
length-prefixed message (1 byte compressed flag, 4 bytes big-endian length, the
serialized protobuf), sent with `content-type: application/grpc` and `te: trailers`.
The status comes back in the `grpc-status` trailer, which h2load does not read; the
bench counts status codes from the server's own metrics and a sampling client instead.
"""

from __future__ import annotations

import struct
from pathlib import Path

_PREFIX = struct.Struct(">BI")
GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")


def encode_frame(message: bytes, *, compressed: bool = False) -> bytes:
    """One length-prefixed gRPC message."""
    if len(message) > 0xFFFFFFFF:
        raise ValueError("a gRPC message is at most 4 GiB")
    return _PREFIX.pack(1 if compressed else 0, len(message)) + message


def decode_frames(data: bytes) -> list[bytes]:
    """Split a body into its messages; raise ValueError on a truncated or compressed one."""
    messages: list[bytes] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _PREFIX.size:
            raise ValueError(f"truncated frame header at byte {offset}")
        flag, length = _PREFIX.unpack_from(data, offset)
        if flag not in (0, 1):
            raise ValueError(f"bad compressed flag {flag} at byte {offset}")
        if flag == 1:
            raise ValueError("compressed messages are not supported")
        start = offset + _PREFIX.size
        if start + length > len(data):
            raise ValueError(
                f"frame at byte {offset} wants {length} bytes, has {len(data) - start}"
            )
        messages.append(data[start : start + length])
        offset = start + length
    return messages


def write_body(path: Path, message: bytes) -> Path:
    """Write the request body file h2load sends with every request."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_frame(message))
    return path


def grpc_url(address: str, full_method: str) -> str:
    """h2load target for a method, e.g. /switchyard.router.v1.RouterService/Route."""
    return f"http://{address}{full_method if full_method.startswith('/') else '/' + full_method}"
