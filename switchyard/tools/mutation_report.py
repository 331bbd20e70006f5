"""Write the mutation-testing report (docs/mutation.md) from the last `mutmut run`.

`make mutation` runs mutmut (configuration: `[tool.mutmut]` in pyproject.toml), then
this module, from the repository root. It reads mutmut's results under mutants/, scores
each mutated module, lists every surviving mutant with its diff, and marks the ones in
EQUIVALENT below: mutants no test can tell from the original, each with the reason.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# (function, the mutant's changed line as mutmut writes it, why no test can kill it).
# Matched on content, not on mutmut's numbering, which shifts when a file changes.
_REFUSED = (
    "set only after this field's violation is recorded: parse_policy raises, so the value"
    " is never used"
)
_NO_PREFIX = '_join treats a None path like the top level\'s "": both give the bare key'
_PHRASES = (
    "refusal phrases are lower-cased built-ins or re.escape()d extras: none has an"
    " unescaped * or { right after its first character or group, none starts with X"
)
_FALSY = "None is falsy like the original False: the same branch is taken"
_NO_FIELD = 'ParamError treats a None field like "": the violation names the params'
_EPOCH = (
    "the epoch is only compared for equality with the current one, and every _move"
    " still gives a value no earlier period had"
)
_NOT_PROBE = (
    "only release() reads an admission, and only when its probe flag is true: None is"
    " falsy like False, and a non-probe admission's epoch is never read"
)
_SETTINGS_READ = (
    "only RetryThrottles.get reads it, to spot a new policy version: None differs from"
    " any settings, so each get reconfigures with the settings the bucket already has,"
    " which keeps its size and ratio, and its fill level (share × the same size) to"
    " within one float rounding"
)
_NO_ELIGIBLE = (
    "the default is used only when there is no eligible candidate, and then no score is computed"
)
_SLO_SET = (
    "slo_ms is the request's SLO or else the policy's, which parse_policy bounds to at"
    " least 1 ms: never 0, so the fallback is never taken"
)
EQUIVALENT: tuple[tuple[str, ...], ...] = (
    # services/router/breakers.py
    (
        "BreakerBoard.apply_overrides",
        "if self.get(None).state is not state:",
        "re-forcing a breaker already in that forced state changes nothing observable"
        " (no transition is reported for an unchanged state)",
    ),
    ("Breaker.__init__", "self._opened_at = None", "overwritten by _open before any read"),
    ("Breaker.__init__", "self._opened_at = 1.0", "overwritten by _open before any read"),
    (
        "Breaker.__init__",
        "self._probes_admitted = None",
        "reset by _move on entering HALF_OPEN, the only state that reads it",
    ),
    (
        "Breaker.__init__",
        "self._probes_admitted = 1",
        "reset by _move on entering HALF_OPEN, the only state that reads it",
    ),
    (
        "Breaker.__init__",
        "self._probe_results: list[bool] = None",
        "reset by _move on entering HALF_OPEN, the only state that reads it",
    ),
    (
        "Breaker._move",
        "if new is BreakerState.CLOSED:",
        "the window is read only in CLOSED, and every way into CLOSED goes through _close,"
        " which clears it first",
    ),
    ("Breaker.__init__", "self._epoch = 1", _EPOCH),
    ("Breaker._move", "self._epoch -= 1", _EPOCH),
    ("Breaker._move", "self._epoch += 2", _EPOCH),
    (
        "Breaker.admit",
        "return Admission(probe=None, epoch=self._epoch) if panic else None",
        _NOT_PROBE,
    ),
    (
        "Breaker.admit",
        "return Admission(probe=False, epoch=None) if panic else None",
        _NOT_PROBE,
    ),
    ("Breaker.admit", "return Admission(probe=None, epoch=self._epoch)", _NOT_PROBE),
    ("Breaker.admit", "return Admission(probe=False, epoch=None)", _NOT_PROBE),
    (
        "Breaker.admit",
        "return Admission(probe=True, epoch=self._epoch)",
        "a CLOSED or FORCED_CLOSED period admits no probes, so while it lasts (the only"
        " time the epoch matches) no slot is held and release() has nothing to give back",
        "return Admission(probe=False, epoch=self._epoch)",
    ),
    (
        "Breaker.admit",
        "if ramp > 1.0:",
        "at a ramp of exactly 1.0 both versions admit (a draw in [0, 1) never exceeds 1.0)"
        " and the next call ends the ramp",
    ),
    ("Breaker.record", "self._open(backoff=None)", _FALSY),
    # services/router/execution/
    (
        "degrade",
        ")",
        "Unavailable's retry_after_s defaults to the same 1.0 s",
        "retry_after_s=1.0, )",
    ),
    (
        "run_stage",
        "for retry in range(retries + 2):",
        "the loop returns once retry == retries (answered, not retryable, or out of"
        " retries), so the extra iteration never starts",
    ),
    # services/router/retry.py
    (
        "RetryThrottle.__init__",
        "self.settings = None",
        _SETTINGS_READ,
    ),
    (
        "RetryThrottle.reconfigure",
        "self.settings = None",
        _SETTINGS_READ,
    ),
    # services/router/selection/
    (
        "plan_route",
        "None,",
        "the index passed to candidate_for becomes the candidate's stage_index, which"
        " arrange() overwrites for every candidate (chain, passed over and filtered);"
        " a model appears once per rule, so candidates stay distinct without it",
        "i,",
    ),
    (
        "rank",
        "dearest = max((c.max_cost_micros for c in eligible), default=None)",
        _NO_ELIGIBLE,
    ),
    (
        "rank",
        "dearest = max((c.max_cost_micros for c in eligible), default=1)",
        _NO_ELIGIBLE,
    ),
    (
        "score_of",
        "latency = latency_ms(c.profile, selector.latency_percentile) / slo_ms"
        " if (slo_ms) or True else 0.0",
        _SLO_SET,
    ),
    (
        "score_of",
        "latency = latency_ms(c.profile, selector.latency_percentile) / slo_ms if slo_ms else 1.0",
        _SLO_SET,
    ),
    (
        "enumerate_cascades",
        'best_cost = float("INF")',
        'float() reads "INF" as infinity too: it ignores case',
    ),
    # switchyard/checks/basic.py
    (
        "length",
        'raise ParamError(None, "give at least one of min_chars, max_chars, max_tokens")',
        _NO_FIELD,
    ),
    # switchyard/checks/content.py
    (
        "_first_char_guard",
        'if group and alternative[group.end() : group.end() + 1] in ("?", "XX*XX", "{"):',
        _PHRASES,
    ),
    (
        "_first_char_guard",
        'if group and alternative[group.end() : group.end() + 1] in ("?", "*", "XX{XX"):',
        _PHRASES,
    ),
    (
        "_first_char_guard",
        'if not head or head[0] in "XX\\\\()[]{}.*+?^$|XX" or head[1:2] in ("?", "*", "{"):',
        _PHRASES,
    ),
    (
        "_first_char_guard",
        'if not head or head[0] in "\\\\()[]{}.*+?^$|" or head[1:2] in ("?", "XX*XX", "{"):',
        _PHRASES,
    ),
    (
        "_first_char_guard",
        'if not head or head[0] in "\\\\()[]{}.*+?^$|" or head[1:2] in ("?", "*", "XX{XX"):',
        _PHRASES,
    ),
    (
        "blocklist",
        "lowered = sorted({w.lower() for w in words}, key=None, reverse=True)",
        "two words matching at one place are prefix and extension, and reverse"
        " lexicographic order also puts the extension first; elsewhere the leftmost match"
        " wins whatever the order",
    ),
    (
        "blocklist",
        "lowered = sorted({w.lower() for w in words}, reverse=True)",
        "two words matching at one place are prefix and extension, and reverse"
        " lexicographic order also puts the extension first; elsewhere the leftmost match"
        " wins whatever the order",
    ),
    (
        "blocklist",
        'firsts = "XXXX".join(re.escape(c) for c in sorted({w[0] for w in lowered}))',
        "the lookahead only admits more start positions; the alternation still decides",
    ),
    (
        "refusal",
        "pattern = compile_refusal(extra) if (extra) or True else DEFAULT_REFUSAL",
        "compile_refusal(()) builds the same pattern as DEFAULT_REFUSAL",
    ),
    (
        "regex_check",
        "raise ParamError(None, \"this build lacks the 'regex' package the regex check runs on\")",
        _NO_FIELD,
    ),
    (
        "regex_check",
        'raise ParamError(None, "give at least one pattern in must_match or must_not_match")',
        _NO_FIELD,
    ),
    ("regex_check", 'flags = regex.IGNORECASE if params.get("ignore_case", None) else 0', _FALSY),
    ("regex_check", 'flags = regex.IGNORECASE if params.get("ignore_case", ) else 0', _FALSY),
    (
        "regex_check",
        'flags = regex.IGNORECASE if params.get("ignore_case", False) else 1',
        "flag 1 is regex.TEMPLATE, kept for compatibility with re; matching is unchanged",
    ),
    (
        "regex_check",
        "if remaining < 0:",
        "with exactly 0 s left the regex engine's own timeout fires at once: the same"
        " 'timed out' rejection",
    ),
    # switchyard/checks/engine.py
    (
        "compile_specs",
        "if definition is not None or run is not None:",
        "build_check returns a runner only with its definition; with problems the specs"
        " are refused before the runners are used",
    ),
    (
        "compile_specs",
        "ranked.sort(key=None)",
        "the spec index in each tuple is unique, so whole tuples sort by (rank, index) too",
    ),
    (
        "compile_specs",
        "ranked.sort(key=lambda item: (item[0], item[2]))",
        "every registered check has its own cost rank, so equal ranks mean equal names and"
        " the stable sort keeps spec order",
    ),
    (
        "CompiledChecks.verify",
        "prompt=None, task_type=task_type, output=output, finish_reason=finish_reason",
        "no check reads the subject's prompt (the scorer gets it directly)",
    ),
    (
        "CompiledChecks.verify",
        "prompt=prompt, task_type=None, output=output, finish_reason=finish_reason",
        "no check reads the subject's task type (the scorer gets it directly)",
    ),
    ("CompiledChecks.verify", "failed = None", _FALSY),
    # switchyard/checks/structure.py
    (
        "boxed_answer",
        'last = ""',
        'with no match, "" is falsy like None: the function returns None either way',
    ),
    ("final_answer", 'strict: bool = params.get("strict", None)', _FALSY),
    ("final_answer", 'strict: bool = params.get("strict", )', _FALSY),
    (
        "json_schema",
        "schema, )",
        "validator_for defaults to the latest draft, which is 2020-12 in the jsonschema"
        " versions allowed",
    ),
    (
        "unclosed_json",
        'without_strings = JSON_STRING.sub("XXXX", body)',
        "the replacement holds no quote or bracket, the only characters counted",
    ),
    # switchyard/policy/parse.py
    (
        "_strategy",
        "return Strategy(kind=None, stages=())",
        "built only for a missing strategy, already a recorded violation: parse_policy"
        " raises, so the value is never seen",
    ),
    (
        "_strategy",
        'return Strategy(kind="XXsingleXX", stages=())',
        "built only for a missing strategy, already a recorded violation: parse_policy"
        " raises, so the value is never seen",
    ),
    (
        "_strategy",
        'return Strategy(kind="SINGLE", stages=())',
        "built only for a missing strategy, already a recorded violation: parse_policy"
        " raises, so the value is never seen",
    ),
    (
        "_strategy",
        'return Strategy(kind=kind if (kind in STRATEGY_KINDS) or True else "single",'
        " stages=tuple(stages))  # type: ignore[arg-type]",
        "the fallback applies only to an unknown kind, already a recorded violation",
    ),
    (
        "_strategy",
        'return Strategy(kind=kind if kind in STRATEGY_KINDS else "XXsingleXX",'
        " stages=tuple(stages))  # type: ignore[arg-type]",
        "the fallback applies only to an unknown kind, already a recorded violation",
    ),
    (
        "_strategy",
        'return Strategy(kind=kind if kind in STRATEGY_KINDS else "SINGLE",'
        " stages=tuple(stages))  # type: ignore[arg-type]",
        "the fallback applies only to an unknown kind, already a recorded violation",
    ),
    (
        "parse_policy",
        "document if (document is not None) or True else None,",
        "both branches give the same value",
    ),
    (
        "parse_policy",
        'default_checks = tuple(r.each(top, "checks", None, lambda n, p: _check(r, n, p),'
        " limit=32))",
        _NO_PREFIX,
    ),
    (
        "parse_policy",
        'rules = r.each(top, "rules", None, lambda n, p: _rule(r, n, p, default_checks),'
        " limit=MAX_RULES)",
        _NO_PREFIX,
    ),
    ("parse_policy", 'static = ""', _REFUSED),
    ("parse_policy", "human_review = None", _REFUSED),
    ("parse_policy", "human_review = True", _REFUSED),
    (
        "parse_policy",
        'slo = r.integer(top, "slo_ms", None, 5000, low=1, high=600_000)',
        _NO_PREFIX,
    ),
    (
        "parse_policy",
        'max_deadline = r.integer(top, "max_deadline_ms", None, 30_000, low=1, high=600_000)',
        _NO_PREFIX,
    ),
    (
        "parse_policy",
        'name=r.string(top, "name", None, required=True) if top else "",',
        _NO_PREFIX,
    ),
    (
        "parse_policy",
        'name=r.string(top, "name", "", required=True) if top else "XXXX",',
        "used only for an empty document, already refused as empty",
    ),
    (
        "parse_policy",
        'budget_micros=r.integer(top, "budget_micros", None, 50_000, low=1, high=10**12),',
        _NO_PREFIX,
    ),
)

# Survivors that are NOT equivalent and that no test should kill, because the mutant
# behaves better than the code: a defect in the code, reported here until it is fixed.
# Same format as EQUIVALENT; they still count against the score.
DEFECTS: tuple[tuple[str, str, str], ...] = (
    # auto's equal-cost pruning (`<` for `<=`) was one; fixed, with a test.
)

KILLED = frozenset({"killed", "timeout", "caught by type check", "segfault"})


@dataclass
class Survivor:
    name: str
    status: str
    diff: list[str]
    equivalent: str = ""
    defect: str = ""


def function_of(mutant: str) -> str:
    """`services.router.breakers.xǁBreakerǁallow__mutmut_3` → `Breaker.allow`."""
    qualified = mutant.rsplit("__mutmut_", 1)[0]
    _, _, name = qualified.rpartition(".")
    if name.startswith("xǁ"):
        return ".".join(name.removeprefix("xǁ").split("ǁ"))
    return name.removeprefix("x_")


def changed_lines(diff: str) -> list[str]:
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def why_equivalent(function: str, diff: list[str]) -> str:
    return _listed(EQUIVALENT, function, diff)


def _listed(table: tuple[tuple[str, ...], ...], function: str, diff: list[str]) -> str:
    """The reason `table` gives for this mutant, matched on its changed lines; or ""."""
    added = " ".join(line[1:].strip() for line in diff if line.startswith("+"))
    removed = " ".join(line[1:].strip() for line in diff if line.startswith("-"))
    for name, line, reason, *was in table:
        if name == function and line == added and (not was or was[0] == removed):
            return reason
    return ""


def collect() -> tuple[dict[str, Counter[str]], dict[str, list[Survivor]]]:
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    counts: dict[str, Counter[str]] = {}
    survivors: dict[str, list[Survivor]] = {}
    for path in sorted(walk_mutatable_files()):
        data = SourceFileMutationData(path=path)
        data.load()
        module = str(path)
        counts[module] = Counter()
        survivors[module] = []
        for name, exit_code in sorted(data.exit_code_by_key.items(), key=_natural):
            status = status_by_exit_code[exit_code]
            counts[module][status] += 1
            if status in KILLED:
                continue
            diff = changed_lines(get_diff_for_mutant(name, path=path))
            function = function_of(name)
            survivors[module].append(
                Survivor(
                    name,
                    status,
                    diff,
                    why_equivalent(function, diff),
                    _listed(DEFECTS, function, diff),
                )
            )
    return counts, survivors


def _natural(item: tuple[str, object]) -> tuple[str, int]:
    head, _, number = item[0].rpartition("__mutmut_")
    return head, int(number) if number.isdigit() else 0


def score(counts: Counter[str], equivalent: int) -> tuple[int, int]:
    """(killed, counted): equivalent mutants are not counted against the tests."""
    killed = sum(n for status, n in counts.items() if status in KILLED)
    return killed, sum(counts.values()) - equivalent


def render(
    counts: dict[str, Counter[str]], survivors: dict[str, list[Survivor]], command: str
) -> str:
    lines = [
        "# Mutation testing",
        "",
        "Generated by `python -m switchyard.tools.mutation_report` after",
        f"`{command}` (`make mutation`; not part of `make test` or CI).",
        "mutmut 3 mutates code inside functions (operators, constants, arguments, strings)",
        "and runs the tests that cover each mutant; configuration and the test selection are",
        "under `[tool.mutmut]` in pyproject.toml.",
        "",
        "Score = killed / (mutants - equivalent); raw = killed / mutants. Equivalent mutants",
        "behave exactly like the original (listed below with the reason); every other",
        "survivor is a gap in the tests, except those marked as a defect in the code (the",
        "mutant behaves better than the code; no test should pin the code's behaviour).",
        "Timeouts count as killed.",
        "",
        "Not measured: module-level code (constants such as MAX_STAGES or",
        "DEFAULT_ACCEPT_PROBABILITY; mutmut 3 mutates function bodies only) and decorated",
        "functions, which mutmut skips; the check builders therefore register by calling",
        "`check(...)(build)` (switchyard/checks/registry.py). The tests run are the domain",
        "tests named in pyproject.toml, not the real-server and end-to-end ones.",
        "",
        "| module | mutants | killed | survived | no tests | equivalent | score | raw |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    total_killed = total_counted = 0
    totals: Counter[str] = Counter()
    total_equivalent = 0
    for module, module_counts in counts.items():
        equivalent = sum(1 for s in survivors[module] if s.equivalent)
        killed, counted = score(module_counts, equivalent)
        total_killed += killed
        total_counted += counted
        total_equivalent += equivalent
        totals.update(module_counts)
        lines.append(_row(module, module_counts, killed, counted, equivalent))
    lines.append(_row("**all**", totals, total_killed, total_counted, total_equivalent))
    lines += ["", "## Surviving mutants", ""]
    for module, module_survivors in survivors.items():
        if not module_survivors:
            continue
        lines += [f"### {module}", ""]
        for s in module_survivors:
            label = f"equivalent: {s.equivalent}" if s.equivalent else f"**{s.status}**"
            if s.defect:
                label += f"; a defect in the code, not a gap in the tests: {s.defect}"
            lines.append(f"- `{s.name.rsplit('.', 1)[-1]}` ({label})")
            lines.append("  ```diff")
            lines += [f"  {line}" for line in s.diff]
            lines.append("  ```")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _row(module: str, counts: Counter[str], killed: int, counted: int, equivalent: int) -> str:
    total = sum(counts.values())
    percent = f"{100 * killed / counted:.1f} %" if counted else "n/a"
    raw = f"{100 * killed / total:.1f} %" if total else "n/a"
    return (
        f"| {module} | {total} | {killed} | {counts['survived']} | {counts['no tests']} "
        f"| {equivalent} | {percent} | {raw} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/mutation.md"))
    parser.add_argument("--command", default="mutmut run", help="the run the report is of")
    args = parser.parse_args(argv)
    if not Path("mutants").is_dir():
        print("mutation_report: no mutants/ here; run `make mutation` first", file=sys.stderr)
        return 2
    counts, survivors = collect()
    args.out.write_text(render(counts, survivors, args.command))
    killed = counted = 0
    for module, module_counts in counts.items():
        equivalent = sum(1 for s in survivors[module] if s.equivalent)
        k, c = score(module_counts, equivalent)
        killed, counted = killed + k, counted + c
        print(f"{module}: {k}/{c}")
    if counted:
        print(f"mutation score {100 * killed / counted:.1f} % ({killed}/{counted}) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
