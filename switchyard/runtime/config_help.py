"""`--help` for a config dataclass's flags, from the comments its fields already carry.

The comment block above a field says what it is (the class body is the settings'
reference). A block also covers the uncommented fields right after that field which
share its first word, as `# TLS: certificate and key` covers `tls_cert_file` and
`tls_key_file`; any other field without a comment gets none.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

_FIELD = re.compile(r"^    (\w+): [^=]+=")


def field_help(cls: type) -> dict[str, str]:
    """Field name -> its comment, for `cls` and the dataclasses it extends (a subclass's
    comment wins); a field without one is absent."""
    helps: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            lines = inspect.getsource(klass).splitlines()[1:]
        except (OSError, TypeError):  # no source (a frozen build): flags without help
            continue
        pending: list[str] = []
        current, family = "", ""
        for line in lines:
            text = line.strip()
            if text.startswith("#"):
                current = ""  # a comment after fields starts a new block
                pending.append(text.lstrip("#").strip())
            elif match := _FIELD.match(line):
                name = match[1]
                if pending:
                    current, family, pending = " ".join(pending), _first_word(name), []
                elif _first_word(name) != family:
                    current = ""
                if current:
                    helps[name] = current
            else:  # a blank line, a docstring or a method ends the block
                pending, current = [], ""
    return helps


def _first_word(name: str) -> str:
    return name.split("_", 1)[0]
