"""Real processes for rollout tests: the suite's launcher with three routers on ports of
their own, the control plane's operator stub, a trained predictor artefact, probes."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.controlplane.v1 import controlplane_pb2_grpc as pb_grpc
from switchyard.learning.artefact import write_artefact
from switchyard.learning.heldout import split_records
from switchyard.learning.predictor_training import TrainingConfig, train_router_predictor
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.tokens import bearer
from switchyard.suite import EXAMPLES, Suite, SuitePorts, SuiteSettings
from tests.fleet.harness import until
from tests.learning.test_predictor import synthetic_records

ROUTERS = ("router", "router-2", "router-3")
OPERATOR = bearer("dev-operator-token")
EXAMPLE_POLICY = (EXAMPLES / "policy.yaml").read_text()
# Loaded machine: generous, but a missing push still fails in seconds.
WAIT_S = 30.0
# Router 3 may download only this many bytes: it cannot take the predictor artefact.
TINY_ARTEFACT_LIMIT = 64

PADDING = "Background notes follow, read them carefully before answering. " * 12
PROBES = [
    router_pb2.PlanRequest(
        request=router_pb2.RouteRequest(
            # Long enough (> 127 tokens) to pass the short-prompt rule to score and auto.
            messages=[router_pb2.ChatMessage(role="user", content=f"{PADDING} {text}")],
            task_type=task,
        )
    )
    for text, task in (
        ("What is the integral of x squared over the unit interval, and why?", "math"),
        ("Is a dog a mammal? Answer with reasons in two sentences please.", "reasoning"),
        ("Extract the dates from: the meeting moved from 3 May to 9 June 2024.", "extraction"),
        ("Classify the sentiment of: the pizza was cold and late, never again.", "classification"),
        ("Hi", "chat"),
    )
]


def rollout_settings(state_dir: Path) -> SuiteSettings:
    return SuiteSettings(
        state_dir=state_dir,
        ports=SuitePorts.ephemeral(),
        routers=3,
        separate_router_ports=True,
        router_args=("--rollout-report-interval-s", "0.2", "--health-probe-interval-ms", "0"),
        per_router_args=((), (), ("--artefact-max-bytes", str(TINY_ARTEFACT_LIMIT))),
    )


def train_artefact(directory: Path) -> bytes:
    """A real quality predictor for models small and large (trained in a second or two)."""
    train, heldout = split_records(synthetic_records(240), seed=5)
    result = train_router_predictor(train, heldout, config=TrainingConfig(seed=5))
    path = directory / "router-predictor.syqp"
    write_artefact(path, result.manifest, result.arrays)
    return path.read_bytes()


def predictor_policy(digest: str) -> str:
    """The example policy whose score and auto rules use the uploaded predictor."""
    return EXAMPLE_POLICY.replace("name: default", "name: with-predictor", 1) + (
        f'\npredictor:\n  artefact: "{digest}"\n'
    )


def failing_policy() -> str:
    """Every request to the code model, with no degraded answer: errors surface."""
    head, _, _ = EXAMPLE_POLICY.partition("degrade:")
    return (
        head.replace("name: default", "name: all-code", 1)
        + "rules: []\ndefault:\n  name: all-code\n  strategy: {kind: single, model: code}\n"
    )


async def upload(cp: pb_grpc.ControlPlaneServiceStub, content: bytes) -> pb.Artefact:
    reply = await cp.UploadArtefact(
        pb.UploadArtefactRequest(
            name="router-predictor.syqp",
            kind=pb.ARTEFACT_KIND_PREDICTOR,
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            author="test",
        ),
        metadata=OPERATOR,
    )
    return reply.artefact


async def publish(cp: pb_grpc.ControlPlaneServiceStub, source: str, **kw) -> int:
    reply = await cp.PublishPolicy(
        pb.PublishPolicyRequest(source=source, author="test", **kw), metadata=OPERATOR
    )
    return reply.policy.version


async def routers(cp: pb_grpc.ControlPlaneServiceStub) -> dict[str, pb.RouterStatus]:
    page = await cp.ListRouters(pb.ListRoutersRequest(), metadata=OPERATOR)
    return {r.router_id: r for r in page.routers}


async def probe(suite: Suite, name: str) -> list[tuple]:
    """What one router decides for the fixed probes: version, rule and the kept chain."""
    async with suite.channel(name) as channel:
        stub = router_pb2_grpc.RouterServiceStub(channel)
        out = []
        for request in PROBES:
            plan = await stub.Plan(request, timeout=10)
            chain = tuple(
                (c.model_id, c.stage, round(c.accept_probability, 6), c.quality_source)
                for c in plan.candidates
                if c.kept
            )
            out.append((plan.policy_version, plan.rule, plan.selector, chain))
        return out


async def eventually(check: Callable[[], Awaitable[bool]], *, wait_s: float = WAIT_S) -> float:
    """Poll until `check` holds; the seconds it took."""
    return await until(check, what="the condition", wait_s=wait_s)


def nack_count(suite: Suite, router_id: str) -> int:
    """NACKs the control plane recorded from one router (read from its SQLite file)."""
    db = sqlite3.connect(f"file:{suite.settings.state_dir / 'controlplane.db'}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT COUNT(*) FROM router_replies WHERE router_id = ? AND status = 'NACK'",
            (router_id,),
        ).fetchone()
        return int(row[0])
    finally:
        db.close()


def large_only_policy() -> str:
    """A candidate that sends everything to the large model: disagrees with the
    active version's short-prompt rule (small)."""
    head, _, _ = EXAMPLE_POLICY.partition("rules:")
    return (
        head.replace("name: default", "name: all-large", 1)
        + "rules: []\ndefault:\n  name: all-large\n  strategy: {kind: single, model: large}\n"
    )


def decisions(suite: Suite, router: str) -> list[sqlite3.Row]:
    """Every record of one router's decision log file."""
    path = suite.settings.state_dir / router / "decisions.db"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(
            "SELECT request_id, policy_version, shadow, shadow_of, model_id, models, outcome"
            " FROM decisions ORDER BY id"
        ).fetchall()
    finally:
        db.close()
