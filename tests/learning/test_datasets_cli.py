"""`switchyard datasets import|split|stats`: what they write and print, and bad input as
one line naming file, line and field with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from switchyard.cli.main import main
from switchyard.learning.dataset import load_dataset

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["datasets", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("source", "count"), [("gsm8k", 3), ("mmlu", 6), ("mt-bench", 2), ("routerarena", 4)]
)
def test_import_built_in_sources(
    source: str, count: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each built-in import writes a loadable dataset and says how many records it wrote."""
    out = tmp_path / f"{source}.jsonl"
    code, stdout, _ = run(capsys, "import", source, "--data-dir", str(FIXTURES), "--out", str(out))
    assert code == 0
    assert len(load_dataset(out)) == count
    assert stdout.startswith(f"wrote {count} records (2 models: ")


def test_import_csv_with_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The csv source maps its flags onto import_csv: models, costs, task type column."""
    logs = tmp_path / "logs.csv"
    logs.write_text("q,kind,a_ok,b_ok,a_usd\nHi,chat,true,false,0.0001\n2+2?,math,1,1,0.0002\n")
    out = tmp_path / "logs.jsonl"
    code, stdout, err = run(
        capsys, "import", "csv", str(logs), "--out", str(out), "--prompt-column", "q",
        "--model", "a=a_ok", "--model", "b=b_ok", "--cost-column", "a=a_usd",
        "--task-type-column", "kind",
    )  # fmt: skip
    assert (code, err) == (0, "")
    first, second = load_dataset(out)
    assert (first.answers["a"].cost_micros, first.answers["b"].quality) == (100, 0.0)
    assert second.task_type == "math" and second.answers["b"].cost_micros is None
    assert "wrote 2 records (2 models: a, b)" in stdout


def test_split_writes_both_sides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """split writes FILE.train.jsonl and FILE.held-out.jsonl by default, together holding
    every record once, and the same sides again for the same seed."""
    data = tmp_path / "mmlu.jsonl"
    run(capsys, "import", "mmlu", "--data-dir", str(FIXTURES), "--out", str(data))
    code, stdout, _ = run(capsys, "split", str(data), "--seed", "3", "--held-out", "0.5")
    assert code == 0 and "seed 3:" in stdout
    train = load_dataset(tmp_path / "mmlu.train.jsonl")
    held = load_dataset(tmp_path / "mmlu.held-out.jsonl")
    assert sorted(r.id for r in train + held) == sorted(r.id for r in load_dataset(data))
    other = tmp_path / "again.jsonl"
    run(capsys, "split", str(data), "--seed", "3", "--held-out-file", str(other),
        "--train-file", str(tmp_path / "t.jsonl"))  # fmt: skip
    assert [r.id for r in load_dataset(other)] == [r.id for r in held]


def test_stats_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """stats prints the record count, task types and one row per model and task type:
    on the fixture RouterArena slice Haiku is right on 1 of 4, with its recorded costs
    238 + 141 + 159 + 303 = 841 µUSD, 210.25 per request."""
    data = tmp_path / "arena.jsonl"
    run(capsys, "import", "routerarena", "--data-dir", str(FIXTURES), "--out", str(data))
    code, stdout, _ = run(capsys, "stats", str(data))
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0] == (f"{data}: 4 records, 2 models; task types: chat 2, math 1, summarization 1")
    assert lines[1].split() == [
        "MODEL", "TASK", "N", "QUALITY", "ACCEPT", "µUSD/REQ", "USD", "TOTAL", "P50", "MS",
    ]  # fmt: skip
    haiku = lines[2].split()
    assert haiku[:5] == ["claude-3-haiku-20240307", "all", "4", "0.250", "25.0%"]
    assert haiku[5:7] == ["210.2", "0.000841"]
    assert haiku[7] == "-"  # RouterArena records no latency


BAD_CASES = [
    # (file contents, expected message tail)
    ('{"id": "a", "messages": [], "task_type": "chat", "answers": {}}\n', ":1: messages: "),
    ("not json\n", ":1: record: not valid JSON"),
    ("", ": the dataset holds no records"),
]


@pytest.mark.parametrize(("text", "where"), BAD_CASES)
@pytest.mark.parametrize("command", ["stats", "split"])
def test_bad_dataset_is_one_line_and_exit_2(
    command: str, text: str, where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad dataset line, an empty file: exit 2 and one stderr line naming file, line
    and field; nothing written by split."""
    data = tmp_path / "bad.jsonl"
    data.write_text(text)
    code, stdout, err = run(capsys, command, str(data))
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1 and err.startswith(f"switchyard datasets: {data}{where}")
    assert not (tmp_path / "bad.train.jsonl").exists()


def test_import_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing data folder, a CSV naming a column it lacks: exit 2, one line each."""
    code, _, err = run(capsys, "import", "gsm8k", "--data-dir", str(tmp_path), "--out", "x.jsonl")
    assert code == 2 and err.count("\n") == 1 and "gsm8k_responses.csv: cannot read" in err
    logs = tmp_path / "logs.csv"
    logs.write_text("q,ok\nHi,true\n")
    code, _, err = run(capsys, "import", "csv", str(logs), "--out", str(tmp_path / "o.jsonl"),
                       "--prompt-column", "prompt", "--model", "m=ok")  # fmt: skip
    assert (
        code == 2
        and err == f"switchyard datasets: {logs}:1: prompt: no such column (columns: q, ok)\n"
    )
    assert not (tmp_path / "o.jsonl").exists()


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    """Through the real entry point: a bad line in stats is exit 2 with no traceback."""
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": "a", "messages": [{"role": "user", "content": "x"}], '
                    '"task_type": "chat", "answers": {"m": {"quality": 2, '
                    '"input_tokens": 1, "output_tokens": 1}}}\n')  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "switchyard.cli.main", "datasets", "stats", str(data)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == f"switchyard datasets: {data}:1: answers.m.quality: 2 outside 0..1\n"
