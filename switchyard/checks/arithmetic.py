"""Checking the arithmetic an answer shows: "16 - 3 = 13", "<<9*2=18>>".

A wrong step is one of the strongest signals that a worked maths answer is wrong, so
the quality scorer counts the equations it can re-evaluate and the ones that do not
hold. The evaluator is a tiny recursive-descent parser over + - * / and parentheses:
no eval(), no exponentiation, bounded token count, so hostile text cannot blow it up.
"""

from __future__ import annotations

import itertools
import re

MAX_TOKENS = 64
TOKEN = re.compile(r"\s*(\d[\d,]*(?:\.\d+)?|\.\d+|[-+*/x×÷()])")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
# "<expression> = <number>" in running text: the left side is the run of number/operator
# characters before "=", read by matching the reversed window (one anchored match per "=",
# never a scan from every position), the right side the number after it.
LEFT_RUN_REVERSED = re.compile(r"[0-9.,+\-*/x×÷()$\\ ]{3,80}")
# Two operands side by side ("$18   3+4"): the expression starts after the last such gap.
OPERAND_GAP = re.compile(r"[\d)]\s+(?=[\d$(])")
RIGHT_NUMBER = re.compile(r"\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)")
# GSM8K-style calculator annotations: <<5*75+120=495>>
ANNOTATION = re.compile(r"<<([^<>]{1,200})>>")
_OPERATORS = frozenset("+-*/x×÷")


def to_number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _tokens(expr: str) -> list[str] | None:
    # LaTeX operators, and markdown escapes such as \* and \-.
    expr = expr.replace("\\times", "*").replace("\\div", "/").replace("\\", "")
    expr = expr.replace("$", "").strip(" ,\t\n")
    tokens: list[str] = []
    pos = 0
    while pos < len(expr):
        found = TOKEN.match(expr, pos)
        if found is None or len(tokens) >= MAX_TOKENS:
            return None
        tokens.append(found.group(1))
        pos = found.end()
    return tokens


# Most equations in worked answers are "a op b" or a chain "a op b op c" without
# parentheses: one regex match instead of the tokenizer and parser. Whitespace is
# limited to what `_tokens` strips, so a chain is accepted exactly when the parser
# would accept it, and evaluated in the same order (same floats).
_NUM = r"\d[\d,]*(?:\.\d+)?"
_OP = r"\\?[-+*/x×÷]"
BINARY = re.compile(rf"\s*\$?({_NUM})\s*({_OP})\s*\$?({_NUM})\s*")
CHAIN = re.compile(rf"[ \t\n]*\$?{_NUM}(?:[ \t\n]*{_OP}[ \t\n]*\$?{_NUM})+[ \t\n]*")
CHAIN_PART = re.compile(rf"{_NUM}|[-+*/x×÷]")


def _number(text: str) -> float:
    return float(text.replace(",", "") if "," in text else text)


def _binary(found: re.Match[str]) -> float | None:
    left, operator, right = found.groups()
    a = _number(left)
    b = _number(right)
    operator = operator[-1]  # drops a markdown escape: "\\*" is "*"
    if operator == "+":
        return a + b
    if operator == "-":
        return a - b
    if operator in ("/", "÷"):
        return a / b if b else None
    return a * b


def _chain(expr: str) -> float | None:
    """A matched CHAIN: * and / bind tighter than + and -, all left to right."""
    parts = CHAIN_PART.findall(expr)
    if len(parts) > MAX_TOKENS:
        return None
    total: float | None = None
    term = _number(parts[0])
    for index in range(1, len(parts), 2):
        operator = parts[index]
        value = _number(parts[index + 1])
        if operator in ("+", "-"):
            total = term if total is None else total + term
            term = value if operator == "+" else -value
            continue
        if operator in ("/", "÷"):
            if value == 0:
                return None
            term /= value
        else:
            term *= value
    return term if total is None else total + term


def evaluate(expr: str) -> float | None:
    """Value of an arithmetic expression with at least one operator, else None."""
    simple = BINARY.fullmatch(expr)
    if simple is not None:
        return _binary(simple)
    if CHAIN.fullmatch(expr) is not None:
        return _chain(expr)
    return parse(expr)


def parse(expr: str) -> float | None:
    """`evaluate` without the fast paths: tokenize, then recursive descent."""
    tokens = _tokens(expr)
    if not tokens or not any(t in _OPERATORS for t in tokens):
        return None
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def atom() -> float:
        nonlocal pos
        token = peek()
        if token == "(":
            pos += 1
            value = sum_()
            if peek() != ")":
                raise ValueError("unbalanced")
            pos += 1
            return value
        if token == "-":
            pos += 1
            return -atom()
        if token is not None and (token[0].isdigit() or token[0] == "."):
            pos += 1
            return float(token.replace(",", ""))
        raise ValueError("expected a number")

    def product() -> float:
        nonlocal pos
        value = atom()
        while peek() in ("*", "/", "x", "×", "÷"):
            operator = tokens[pos]
            pos += 1
            right = atom()
            if operator in ("/", "÷"):
                if right == 0:
                    raise ValueError("division by zero")
                value /= right
            else:
                value *= right
        return value

    def sum_() -> float:
        nonlocal pos
        value = product()
        while peek() in ("+", "-"):
            operator = tokens[pos]
            pos += 1
            right = product()
            value = value + right if operator == "+" else value - right
        return value

    try:
        value = sum_()
    except (ValueError, OverflowError):
        return None
    return value if pos == len(tokens) else None


def close(a: float, b: float) -> bool:
    """Equal up to the rounding an answer may show (0.01 absolute or 0.5 % relative)."""
    return abs(a - b) <= 0.01 + 0.005 * max(abs(a), abs(b))


MAX_CANDIDATES = 60


def equation_errors(text: str, limit: int = MAX_CANDIDATES) -> tuple[int, int]:
    """(equations checked, equations that do not hold) in `text`.

    At most `limit` candidate equations are looked at, so cost stays bounded on
    long or adversarial text.
    """
    checked = wrong = attempts = 0
    for found in ANNOTATION.finditer(text):
        attempts += 1
        if attempts > limit:
            return checked, wrong
        sides = found.group(1).split("=")
        for left, right in itertools.pairwise(sides):
            a = evaluate(left)
            if a is None:
                a = to_number(left.strip())
            b = to_number(right.strip()) if NUMBER.fullmatch(right.strip()) else evaluate(right)
            if a is None or b is None:
                continue
            checked += 1
            wrong += not close(a, b)
    plain = ANNOTATION.sub(" ", text)
    equals = plain.find("=")
    while equals != -1:
        attempts += 1
        if attempts > limit:
            break
        left = LEFT_RUN_REVERSED.match(plain[max(0, equals - 80) : equals][::-1])
        right = RIGHT_NUMBER.match(plain, equals + 1)
        equals = plain.find("=", equals + 1)
        if left is None or right is None:
            continue
        expression = left.group(0)[::-1]
        a = evaluate(expression)
        if a is None:
            gaps = list(OPERAND_GAP.finditer(expression))
            if gaps:
                a = evaluate(expression[gaps[-1].end() :])
        b = to_number(right.group(1))
        if a is None or b is None:
            continue
        checked += 1
        wrong += not close(a, b)
    return checked, wrong
