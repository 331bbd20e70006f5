from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_ACCEPT: _ClassVar[Verdict]
    VERDICT_REJECT: _ClassVar[Verdict]
VERDICT_UNSPECIFIED: Verdict
VERDICT_ACCEPT: Verdict
VERDICT_REJECT: Verdict

class CheckSpec(_message.Message):
    __slots__ = ("name", "params")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    params: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CheckResult(_message.Message):
    __slots__ = ("name", "passed", "reason", "duration_us")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    name: str
    passed: bool
    reason: str
    duration_us: int
    def __init__(self, name: _Optional[str] = ..., passed: _Optional[bool] = ..., reason: _Optional[str] = ..., duration_us: _Optional[int] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("id", "output", "finish_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    output: str
    finish_reason: str
    def __init__(self, id: _Optional[str] = ..., output: _Optional[str] = ..., finish_reason: _Optional[str] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("prompt", "task_type", "candidate", "checks", "all_results", "min_score")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    ALL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    task_type: str
    candidate: Candidate
    checks: _containers.RepeatedCompositeFieldContainer[CheckSpec]
    all_results: bool
    min_score: float
    def __init__(self, prompt: _Optional[str] = ..., task_type: _Optional[str] = ..., candidate: _Optional[_Union[Candidate, _Mapping]] = ..., checks: _Optional[_Iterable[_Union[CheckSpec, _Mapping]]] = ..., all_results: _Optional[bool] = ..., min_score: _Optional[float] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("verdict", "score", "results", "server_time_us")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_US_FIELD_NUMBER: _ClassVar[int]
    verdict: Verdict
    score: float
    results: _containers.RepeatedCompositeFieldContainer[CheckResult]
    server_time_us: int
    def __init__(self, verdict: _Optional[_Union[Verdict, str]] = ..., score: _Optional[float] = ..., results: _Optional[_Iterable[_Union[CheckResult, _Mapping]]] = ..., server_time_us: _Optional[int] = ...) -> None: ...

class RankRequest(_message.Message):
    __slots__ = ("prompt", "task_type", "candidates", "checks", "min_score", "all_results")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    ALL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    task_type: str
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    checks: _containers.RepeatedCompositeFieldContainer[CheckSpec]
    min_score: float
    all_results: bool
    def __init__(self, prompt: _Optional[str] = ..., task_type: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., checks: _Optional[_Iterable[_Union[CheckSpec, _Mapping]]] = ..., min_score: _Optional[float] = ..., all_results: _Optional[bool] = ...) -> None: ...

class RankedCandidate(_message.Message):
    __slots__ = ("id", "verdict", "score", "results")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    verdict: Verdict
    score: float
    results: _containers.RepeatedCompositeFieldContainer[CheckResult]
    def __init__(self, id: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., score: _Optional[float] = ..., results: _Optional[_Iterable[_Union[CheckResult, _Mapping]]] = ...) -> None: ...

class RankResponse(_message.Message):
    __slots__ = ("candidates", "server_time_us")
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    SERVER_TIME_US_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[RankedCandidate]
    server_time_us: int
    def __init__(self, candidates: _Optional[_Iterable[_Union[RankedCandidate, _Mapping]]] = ..., server_time_us: _Optional[int] = ...) -> None: ...

class ListChecksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CheckParameter(_message.Message):
    __slots__ = ("name", "type", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    description: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class CheckDescription(_message.Message):
    __slots__ = ("name", "description", "parameters", "cost_rank")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    COST_RANK_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _containers.RepeatedCompositeFieldContainer[CheckParameter]
    cost_rank: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Iterable[_Union[CheckParameter, _Mapping]]] = ..., cost_rank: _Optional[int] = ...) -> None: ...

class ListChecksResponse(_message.Message):
    __slots__ = ("checks", "scorer_version")
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    SCORER_VERSION_FIELD_NUMBER: _ClassVar[int]
    checks: _containers.RepeatedCompositeFieldContainer[CheckDescription]
    scorer_version: str
    def __init__(self, checks: _Optional[_Iterable[_Union[CheckDescription, _Mapping]]] = ..., scorer_version: _Optional[str] = ...) -> None: ...
