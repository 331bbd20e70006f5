"""Generated code under switchyard/<service>/v1 must match what `make proto` produces."""

from __future__ import annotations

from pathlib import Path

from switchyard.tools.genproto import REPO_ROOT, generate


def test_generated_code_matches_protos(tmp_path: Path) -> None:
    """Regenerating from protos/ into a temp dir gives files identical to the committed ones."""
    generate(tmp_path)
    fresh = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    generated = {p for p in fresh if p.name.endswith(("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"))}
    assert generated, "protoc produced nothing"
    committed = {
        p.relative_to(REPO_ROOT)
        for p in (REPO_ROOT / "switchyard").rglob("*_pb2*.py*")
        if p.is_file() and p.suffix in (".py", ".pyi")
    }
    assert committed == generated, "generated files were added or removed: run `make proto`"
    stale = [
        str(p) for p in generated if (tmp_path / p).read_bytes() != (REPO_ROOT / p).read_bytes()
    ]
    assert not stale, f"generated code drifted from protos/: run `make proto` ({stale})"
