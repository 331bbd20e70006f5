"""With registry_address set, publishing refuses policies that name unknown models."""

from __future__ import annotations

import socket
from pathlib import Path

import grpc
import pytest

from controlplane.registry import RegistryModels
from switchyard.certs import write_dev_certs
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import Unavailable, field_violations
from switchyard.runtime.tls import TlsConfig
from tests.controlplane.cp_harness import (
    EXAMPLE_POLICY,
    start_control_plane,
    stop_control_plane,
)
from tests.controlplane.fake_registry import start_fake_registry

DEMO_MODELS = ["small", "medium", "large", "code", "tiny"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_known_models_are_read_across_every_page(tmp_path: Path) -> None:
    """Five models at two per page: all five ids, three ListModels calls."""
    server, registry = await start_fake_registry(DEMO_MODELS)
    models = RegistryModels(f"127.0.0.1:{server.port}")
    try:
        assert await models.model_ids() == frozenset(DEMO_MODELS)
        assert registry.list_calls == 3
    finally:
        await models.close()
        await server.stop(0)


async def test_registry_lookup_over_mutual_tls_with_a_token(tmp_path: Path) -> None:
    """With registry TLS settings and a token, the control plane reads the model ids
    over mutual TLS and sends the token on every page; without its client certificate
    the registry cannot be read (UNAVAILABLE, nothing stored)."""
    certs = write_dev_certs(tmp_path / "certs", days=1)
    pair = certs.service("registry")
    config = ServerConfig(
        port=0,
        tls_cert_file=str(pair.cert),
        tls_key_file=str(pair.key),
        tls_client_ca_file=str(certs.ca),
    )
    server, registry = await start_fake_registry(DEMO_MODELS, config)
    own = certs.service("controlplane")
    address = f"localhost:{server.port}"
    mutual = TlsConfig(root_certificates=certs.ca, client_certificate=own.cert, client_key=own.key)
    models = RegistryModels(address, tls=mutual, token="cp-read-token")
    no_cert = RegistryModels(address, tls=TlsConfig(root_certificates=certs.ca), timeout_s=2)
    try:
        assert await models.model_ids() == frozenset(DEMO_MODELS)
        assert registry.tokens == ["cp-read-token"] * 3
        with pytest.raises(Unavailable, match="UNAVAILABLE"):
            await no_cert.model_ids()
    finally:
        await models.close()
        await no_cert.close()
        await server.stop(0)


async def test_policy_naming_an_unknown_model_is_refused(tmp_path: Path) -> None:
    """The example policy without 'code' in the registry: a violation on that stage."""
    server, _ = await start_fake_registry(["small", "large", "medium"])
    models = RegistryModels(f"127.0.0.1:{server.port}")
    cp = await start_control_plane(tmp_path / "cp.db", known_models=models.model_ids)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await cp.publish(EXAMPLE_POLICY)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        violations = field_violations(caught.value)
        assert [v.field for v in violations] == ["rules[1].strategy.stages[0].model"]
        assert "'code'" in violations[0].description
        assert not await cp.plane.store.has_policies()
        forced = pb.SetBreakerOverrideRequest(
            model_id="ghost", override=pb.BREAKER_OVERRIDE_FORCED_OPEN
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await cp.stub.SetBreakerOverride(forced)
        # An override for a model the registry does not know is NOT_FOUND (issue 15).
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert "'ghost'" in (caught.value.details() or "")
        # Removing one never is: the model may have left the registry since.
        removed = pb.SetBreakerOverrideRequest(model_id="ghost", override=pb.BREAKER_OVERRIDE_NONE)
        await cp.stub.SetBreakerOverride(removed)
    finally:
        await stop_control_plane(cp)
        await models.close()
        await server.stop(0)


async def test_policy_with_known_models_is_stored(tmp_path: Path) -> None:
    """Every referenced model exists: the version is stored and active."""
    server, _ = await start_fake_registry(DEMO_MODELS)
    models = RegistryModels(f"127.0.0.1:{server.port}")
    cp = await start_control_plane(tmp_path / "cp.db", known_models=models.model_ids)
    try:
        response = await cp.publish(EXAMPLE_POLICY)
        assert response.policy.version == 1 and response.active
    finally:
        await stop_control_plane(cp)
        await models.close()
        await server.stop(0)


async def test_unreachable_registry_is_unavailable_and_stores_nothing(tmp_path: Path) -> None:
    """No registry listening: UNAVAILABLE with a retry hint, and no version stored."""
    models = RegistryModels(f"127.0.0.1:{_closed_port()}", timeout_s=2.0)
    cp = await start_control_plane(tmp_path / "cp.db", known_models=models.model_ids)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await cp.publish(EXAMPLE_POLICY)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "registry" in (caught.value.details() or "")
        assert not await cp.plane.store.has_policies()
    finally:
        await stop_control_plane(cp)
        await models.close()
