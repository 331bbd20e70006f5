"""RecordFeedback() request validation: every problem reported as a field violation."""

from __future__ import annotations

import math
from dataclasses import dataclass

from switchyard.router.v1 import router_pb2
from switchyard.runtime.errors import FieldViolation, InvalidArgument

MAX_REQUEST_ID_CHARS = 128
MAX_SOURCE_CHARS = 64
DEFAULT_SOURCE = "api"


@dataclass(frozen=True)
class Feedback:
    request_id: str
    label: float
    source: str


def feedback_input(request: router_pb2.RecordFeedbackRequest) -> Feedback:
    problems: list[FieldViolation] = []
    if not request.request_id.strip():
        problems.append(FieldViolation("request_id", "required: RouteResponse.request_id"))
    elif len(request.request_id) > MAX_REQUEST_ID_CHARS:
        problems.append(FieldViolation("request_id", f"at most {MAX_REQUEST_ID_CHARS} characters"))
    if not request.HasField("label"):
        problems.append(FieldViolation("label", "required: a quality in [0, 1]"))
    elif not (math.isfinite(request.label) and 0.0 <= request.label <= 1.0):
        problems.append(FieldViolation("label", f"{request.label:g} is outside [0, 1]"))
    if len(request.source) > MAX_SOURCE_CHARS:
        problems.append(FieldViolation("source", f"at most {MAX_SOURCE_CHARS} characters"))
    if problems:
        raise InvalidArgument(problems)
    return Feedback(request.request_id, request.label, request.source or DEFAULT_SOURCE)
