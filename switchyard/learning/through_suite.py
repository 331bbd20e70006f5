"""`switchyard eval --through-suite ADDRESS`: the same requests through a running router.

The in-process evaluation is only worth trusting if it decides what the deployed
router decides. This sends an evenly spaced sample of the dataset's requests to a
running suite (router -> simulator with `--replay` of the same dataset file, the same
policy and fleet) and compares, request by request, the in-process run with the live
one: the model that served, the models called in order, and, for a served answer, that
the text is the one recorded for that model. Latency in the suite is drawn from the
simulator's profiles, so a route that depends on timeouts may differ; run the
simulator without failures (`error_rate: 0`) for a clean comparison.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import grpc

from switchyard.learning.dataset import DatasetRecord
from switchyard.learning.evaluate import EvalSetup, route_policy
from switchyard.learning.inprocess_router import RoutedRequest, route_request
from switchyard.policy import parse_policy
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.tls import TlsConfig, open_upstream_channel

SKIPPED = router_pb2.ATTEMPT_OUTCOME_SKIPPED


@dataclass(frozen=True)
class Decision:
    """What a route decided, comparable between the two runs."""

    served_model: str
    models_called: tuple[str, ...]
    error: str = ""


@dataclass(frozen=True)
class Comparison:
    record_id: str
    in_process: Decision
    live: Decision
    answer_matches: bool

    @property
    def matches(self) -> bool:
        return self.in_process == self.live and self.answer_matches


def sample(records: Sequence[DatasetRecord], size: int) -> list[int]:
    """Evenly spaced indexes, deterministic, covering the file from start to end."""
    if size >= len(records):
        return list(range(len(records)))
    return [round(i * (len(records) - 1) / max(1, size - 1)) for i in range(size)]


def _decision(routed: RoutedRequest) -> Decision:
    return Decision(routed.served_model, routed.models_called, routed.error)


async def _live(
    stub: router_pb2_grpc.RouterServiceStub,
    request: router_pb2.RouteRequest,
    timeout_s: float,
    metadata: tuple[tuple[str, str], ...] = (),
) -> tuple[Decision, str]:
    try:
        reply = await stub.Route(request, timeout=timeout_s, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        return Decision("", (), exc.code().name), ""
    called = tuple(a.model_id for a in reply.attempts if a.outcome != SKIPPED)
    return Decision(reply.model_id, called), reply.answer


async def compare(
    address: str,
    setup: EvalSetup,
    policy_source: str,
    *,
    size: int,
    timeout_s: float = 60.0,
    token: str = "",
    tls: TlsConfig | None = None,
) -> list[Comparison]:
    policy = parse_policy(policy_source, known_models=list(setup.profiles))
    indexes = sample(setup.records, size)
    chosen = EvalSetup(
        records=tuple(setup.records[i] for i in indexes),
        profiles=setup.profiles,
        model_map=setup.model_map,
        max_output_tokens=setup.max_output_tokens,
        artefacts_dir=setup.artefacts_dir,
    )
    in_process = await route_policy(chosen, policy)
    out = []
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    async with open_upstream_channel(address, tls, token=token) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        for record, routed in zip(chosen.records, in_process, strict=True):
            request = route_request(record, max_output_tokens=chosen.max_output_tokens)
            live, answer = await _live(stub, request, timeout_s, metadata)
            served = live.served_model
            recorded = chosen.answer(record, served).answer if served in chosen.model_map else None
            out.append(
                Comparison(
                    record_id=record.id,
                    in_process=_decision(routed),
                    live=live,
                    answer_matches=not served or recorded is None or answer == recorded,
                )
            )
    return out


def format_comparison(comparisons: Sequence[Comparison], address: str) -> str:
    same = sum(1 for c in comparisons if c.matches)
    lines = [f"through the suite at {address}: {same}/{len(comparisons)} decisions match"]
    for c in comparisons:
        if c.matches:
            continue
        lines.append(
            f"  {c.record_id}: in-process {c.in_process.served_model or c.in_process.error} "
            f"via {','.join(c.in_process.models_called) or '-'}; live "
            f"{c.live.served_model or c.live.error} via {','.join(c.live.models_called) or '-'}"
            + ("" if c.answer_matches else "; live answer is not the recorded one")
        )
    return "\n".join(lines)


def compare_with_suite(
    args: argparse.Namespace, setup: EvalSetup, policy_source: str, *, out: TextIO
) -> int:
    """CLI step: 0 when every sampled decision matches, 1 otherwise."""
    import asyncio

    from switchyard.cli.connection import router_token, tls_from_args

    tls = tls_from_args(args)
    token = router_token(getattr(args, "token", None), address=args.through_suite, tls=tls)
    comparisons = asyncio.run(
        compare(args.through_suite, setup, policy_source, size=args.sample, token=token, tls=tls)
    )
    print(format_comparison(comparisons, args.through_suite), file=out)
    return 0 if all(c.matches for c in comparisons) else 1
