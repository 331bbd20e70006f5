"""Fleet files, diffs and apply: the operator's declarative view of the registry.

`load_fleet` reads the operator's YAML (friendly keys, `${VAR}` / `${VAR:-default}`
expansion), `diff_fleet` compares it with what the registry holds, and `apply_fleet`
creates and updates models using etags so a concurrent edit is reported, not overwritten.
"""

from switchyard.fleet.apply import FleetApplyResult, apply_fleet, list_all_models
from switchyard.fleet.diff import (
    SPEC_FIELDS,
    Action,
    PlannedChange,
    changed_fields,
    diff_fleet,
    top_level,
)
from switchyard.fleet.file import (
    CAPABILITIES,
    PROVIDER_KINDS,
    FleetError,
    load_fleet,
    model_to_fleet_entry,
    parse_fleet,
)

__all__ = [
    "CAPABILITIES",
    "PROVIDER_KINDS",
    "SPEC_FIELDS",
    "Action",
    "FleetApplyResult",
    "FleetError",
    "PlannedChange",
    "apply_fleet",
    "changed_fields",
    "diff_fleet",
    "list_all_models",
    "load_fleet",
    "model_to_fleet_entry",
    "parse_fleet",
    "top_level",
]
