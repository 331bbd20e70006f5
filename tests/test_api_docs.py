"""docs/api.md is generated from the proto comments, covers every element, and every
element of the API has a comment."""

from __future__ import annotations

import shutil
from pathlib import Path

from switchyard.tools.apidoc import API_DOC, descriptor_set, elements, main, render, undocumented
from switchyard.tools.genproto import PROTO_ROOT


def test_api_md_matches_the_protos() -> None:
    """The committed docs/api.md is exactly what `make proto` renders from protos/."""
    assert API_DOC.read_text() == render(descriptor_set()), (
        "docs/api.md drifted from the proto comments: run `make proto`"
    )


def test_every_element_has_a_comment() -> None:
    """Every service, RPC, message, field, oneof, enum and enum value is documented."""
    missing = [f"{e.kind} {e.name}" for e in undocumented(descriptor_set())]
    assert not missing, f"add comments in protos/ for: {missing}"


def test_api_md_covers_every_rpc_and_field() -> None:
    """Each RPC has its anchor and each field a row in its message's section."""
    text = API_DOC.read_text()
    sections = dict(block.partition('"')[::2] for block in text.split('#### <a id="')[1:])
    found = list(elements(descriptor_set()))
    assert sum(e.kind == "rpc" for e in found) >= 20
    for element in found:
        if element.kind == "rpc":
            assert f'<a id="{element.name}"></a>' in text, element.name
        elif element.kind == "field":
            message, field = element.name.rsplit(".", 1)
            assert f"| `{field}` |" in sections[message], element.name


def test_a_missing_comment_or_a_stale_doc_fails_the_check(tmp_path: Path, capsys) -> None:
    """Deleting one field's comment is reported by name; a stale api.md fails --check."""
    protos = tmp_path / "protos"
    shutil.copytree(PROTO_ROOT, protos)
    router = protos / "switchyard/router/v1/router.proto"
    text = router.read_text()
    comment = "  // Budget in micro-USD; 0 uses the policy's. Negative is invalid.\n"
    comment += "  // No stage starts whose worst-case cost would take the spend past it.\n"
    assert comment in text
    router.write_text(text.replace(comment, ""))
    missing = [e.name for e in undocumented(descriptor_set(protos))]
    assert missing == ["switchyard.router.v1.RouteRequest.budget_micros"]

    stale = tmp_path / "api.md"
    stale.write_text(API_DOC.read_text().replace("micro-USD", "dollars"))
    assert main(["--check", "--out", str(stale)]) == 1
    assert "is stale" in capsys.readouterr().err
    assert main(["--check"]) == 0
