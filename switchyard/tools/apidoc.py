"""Generate docs/api.md, the API reference, from the comments in protos/.

    python -m switchyard.tools.apidoc            # write docs/api.md (`make proto` runs it)
    python -m switchyard.tools.apidoc --check    # exit 1 if docs/api.md is stale or an
                                                 # element of the API has no comment

protoc (grpcio-tools) compiles the protos into a descriptor set with source info, which
carries each element's leading comment; the reference is rendered from that, so it
can only say what the protos say. tests/test_api_docs.py fails when it drifts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from google.protobuf import descriptor_pb2

from switchyard.tools.genproto import PROTO_ROOT, REPO_ROOT

API_DOC = REPO_ROOT / "docs" / "api.md"

# Field numbers of the descriptor messages, as SourceCodeInfo paths use them.
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ENUM, _MESSAGE_ONEOF = 2, 3, 4, 8
_ENUM_VALUE, _SERVICE_METHOD = 2, 2

FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    FDP.TYPE_DOUBLE: "double",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32",
    FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes",
    FDP.TYPE_UINT32: "uint32",
    FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64",
    FDP.TYPE_SINT32: "sint32",
    FDP.TYPE_SINT64: "sint64",
}


def descriptor_set(proto_root: Path = PROTO_ROOT) -> descriptor_pb2.FileDescriptorSet:
    """Our proto files (not their imports), with source info, compiled by protoc.

    The router's package comes first (it is what most callers want), then the others
    by path.
    """
    from grpc_tools import protoc  # dev dependency, as for genproto

    include = str(resources.files("grpc_tools") / "_proto")
    files = sorted(
        (str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto")),
        key=lambda name: (not name.startswith("switchyard/router/"), name),
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "api.binpb"
        args = [
            "grpc_tools.protoc",
            f"-I{proto_root}",
            f"-I{include}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *files,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


@dataclass(frozen=True)
class Element:
    """One documentable element: its kind, full name and comment."""

    kind: str
    name: str
    comment: str


class Comments:
    """Leading comments of one file, looked up by descriptor path."""

    def __init__(self, file: descriptor_pb2.FileDescriptorProto) -> None:
        self._by_path = {
            tuple(location.path): location.leading_comments.strip()
            for location in file.source_code_info.location
        }

    def __call__(self, *path: int) -> str:
        text = self._by_path.get(path, "")
        return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _messages(
    messages: list[descriptor_pb2.DescriptorProto], prefix: str, path: tuple[int, ...]
) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto, tuple[int, ...]]]:
    """Every message, nested ones too (map entries excluded), with its full name."""
    for index, message in enumerate(messages):
        if message.options.map_entry:
            continue
        name = f"{prefix}.{message.name}"
        here = (*path, index)
        yield name, message, here
        yield from _messages(list(message.nested_type), name, (*here, _MESSAGE_NESTED))


def _enums(
    file: descriptor_pb2.FileDescriptorProto,
) -> Iterator[tuple[str, descriptor_pb2.EnumDescriptorProto, tuple[int, ...]]]:
    for index, enum in enumerate(file.enum_type):
        yield f"{file.package}.{enum.name}", enum, (_FILE_ENUM, index)
    for name, message, path in _messages(list(file.message_type), file.package, (_FILE_MESSAGE,)):
        for index, enum in enumerate(message.enum_type):
            yield f"{name}.{enum.name}", enum, (*path, _MESSAGE_ENUM, index)


def elements(files: descriptor_pb2.FileDescriptorSet) -> Iterator[Element]:
    """Every service, RPC, message, field, oneof, enum and enum value, with its comment."""
    for file in files.file:
        comment = Comments(file)
        for s_index, service in enumerate(file.service):
            s_name = f"{file.package}.{service.name}"
            yield Element("service", s_name, comment(_FILE_SERVICE, s_index))
            for m_index, method in enumerate(service.method):
                path = (_FILE_SERVICE, s_index, _SERVICE_METHOD, m_index)
                yield Element("rpc", f"{s_name}.{method.name}", comment(*path))
        for name, message, path in _messages(
            list(file.message_type), file.package, (_FILE_MESSAGE,)
        ):
            yield Element("message", name, comment(*path))
            # A proto3 `optional` field's synthetic oneof has no source to comment.
            synthetic = {
                f.oneof_index
                for f in message.field
                if f.proto3_optional and f.HasField("oneof_index")
            }
            for o_index, oneof in enumerate(message.oneof_decl):
                if o_index in synthetic:
                    continue
                o_path = (*path, _MESSAGE_ONEOF, o_index)
                yield Element("oneof", f"{name}.{oneof.name}", comment(*o_path))
            for f_index, field in enumerate(message.field):
                f_path = (*path, _MESSAGE_FIELD, f_index)
                yield Element("field", f"{name}.{field.name}", comment(*f_path))
        for name, enum, path in _enums(file):
            yield Element("enum", name, comment(*path))
            for v_index, value in enumerate(enum.value):
                v_path = (*path, _ENUM_VALUE, v_index)
                yield Element("enum value", f"{name}.{value.name}", comment(*v_path))


def undocumented(files: descriptor_pb2.FileDescriptorSet) -> list[Element]:
    return [element for element in elements(files) if not element.comment]


# -- rendering ----------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "-"


def _link(type_name: str, package: str) -> str:
    full = type_name.lstrip(".")
    if full.startswith("google."):
        return f"`{full}`"
    short = full.removeprefix(package + ".")
    return f"[`{short}`](#{full})"


class _Renderer:
    def __init__(self, file: descriptor_pb2.FileDescriptorProto) -> None:
        self.file = file
        self.comment = Comments(file)
        self.package = file.package
        self.map_entries = {
            name: message
            for name, message in self._all_messages(list(file.message_type), file.package)
            if message.options.map_entry
        }

    def _all_messages(
        self, messages: list[descriptor_pb2.DescriptorProto], prefix: str
    ) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto]]:
        for message in messages:
            name = f"{prefix}.{message.name}"
            yield name, message
            yield from self._all_messages(list(message.nested_type), name)

    def field_type(self, field: descriptor_pb2.FieldDescriptorProto) -> str:
        if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
            entry = self.map_entries.get(field.type_name.lstrip("."))
            if entry is not None:
                key, value = entry.field
                return f"map&lt;{self.field_type(key)}, {self.field_type(value)}&gt;"
            rendered = _link(field.type_name, self.package)
        else:
            rendered = f"`{_SCALARS[field.type]}`"
        if field.label == FDP.LABEL_REPEATED:
            return f"repeated {rendered}"
        return rendered

    def lines(self) -> Iterator[str]:
        file, comment = self.file, self.comment
        yield f'## <a id="{self.package}"></a>`{self.package}`'
        yield ""
        yield f"Source: [`protos/{file.name}`](../protos/{file.name})"
        yield ""
        for s_index, service in enumerate(file.service):
            full = f"{self.package}.{service.name}"
            yield f'### <a id="{full}"></a>{service.name}'
            yield ""
            yield comment(_FILE_SERVICE, s_index)
            yield ""
            yield "| RPC | request | response | description |"
            yield "|---|---|---|---|"
            for m_index, method in enumerate(service.method):
                stream_in = "stream " if method.client_streaming else ""
                stream_out = "stream " if method.server_streaming else ""
                text = comment(_FILE_SERVICE, s_index, _SERVICE_METHOD, m_index)
                yield (
                    f'| <a id="{full}.{method.name}"></a>`{method.name}` '
                    f"| {stream_in}{_link(method.input_type, self.package)} "
                    f"| {stream_out}{_link(method.output_type, self.package)} | {_cell(text)} |"
                )
            yield ""
        yield "### Messages"
        yield ""
        for name, message, path in _messages(
            list(file.message_type), self.package, (_FILE_MESSAGE,)
        ):
            yield f'#### <a id="{name}"></a>{name.removeprefix(self.package + ".")}'
            yield ""
            yield comment(*path)
            yield ""
            if not message.field:
                yield "No fields."
                yield ""
                continue
            yield "| field | number | type | description |"
            yield "|---|---:|---|---|"
            for f_index, field in enumerate(message.field):
                text = comment(*path, _MESSAGE_FIELD, f_index)
                if field.HasField("oneof_index") and not field.proto3_optional:
                    oneof_index = field.oneof_index
                    oneof = message.oneof_decl[oneof_index]
                    oneof_text = comment(*path, _MESSAGE_ONEOF, oneof_index)
                    text = f"{text} (oneof `{oneof.name}`: {oneof_text})"
                yield (
                    f"| `{field.name}` | {field.number} | {self.field_type(field)} "
                    f"| {_cell(text)} |"
                )
            yield ""
        enums = list(_enums(file))
        if enums:
            yield "### Enums"
            yield ""
        for name, enum, path in enums:
            yield f'#### <a id="{name}"></a>{name.removeprefix(self.package + ".")}'
            yield ""
            yield comment(*path)
            yield ""
            yield "| value | number | description |"
            yield "|---|---:|---|"
            for v_index, value in enumerate(enum.value):
                text = comment(*path, _ENUM_VALUE, v_index)
                yield f"| `{value.name}` | {value.number} | {_cell(text)} |"
            yield ""


def render(files: descriptor_pb2.FileDescriptorSet) -> str:
    out = [
        "# Switchyard API reference",
        "",
        "<!-- Generated by `python -m switchyard.tools.apidoc` (`make proto`) from the",
        "     comments in protos/. Do not edit: edit the comments and regenerate. -->",
        "",
        "Every service, RPC, message, field and enum value of the gRPC API, from the",
        "comments in `protos/`. Conventions: money is integer micro-USD (`_micros`),",
        "durations are milliseconds (`_ms`) or microseconds (`_us`), zero values mean",
        '"not set / the default", errors carry `google.rpc` details',
        "([README](../README.md#calling-route)); how the API may change:",
        "[api-evolution.md](api-evolution.md).",
        "",
    ]
    for file in files.file:
        out.append(
            f"- [`{file.package}`](#{file.package}): "
            + ", ".join(f"[{s.name}](#{file.package}.{s.name})" for s in file.service)
        )
    out.append("")
    for file in files.file:
        out.extend(_Renderer(file).lines())
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if stale or undocumented")
    parser.add_argument("--out", type=Path, default=API_DOC)
    args = parser.parse_args(argv)
    files = descriptor_set()
    text = render(files)
    if not args.check:
        args.out.write_text(text)
        return 0
    missing = undocumented(files)
    for element in missing:
        print(f"undocumented {element.kind}: {element.name}", file=sys.stderr)
    stale = not args.out.exists() or args.out.read_text() != text
    if stale:
        print(f"{args.out} is stale: run `make proto`", file=sys.stderr)
    return 1 if missing or stale else 0


if __name__ == "__main__":
    sys.exit(main())
