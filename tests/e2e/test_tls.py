"""TLS and mutual TLS end to end with real processes and certificates written by
`switchyard certs dev`: a TLS service refuses plaintext clients and clients that do
not trust its CA; a mutual-TLS service refuses clients without a certificate from its
CA; `switchyard run --mtls` (`make run MTLS=1`) serves every service and every
service-to-service channel over mutual TLS, and the CLI calls it with the dev token."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from switchyard.certs import CLIENT, SERVICES, DevCerts, write_dev_certs
from switchyard.client import TlsConfig
from switchyard.registry.v1 import registry_pb2, registry_pb2_grpc
from switchyard.verifier.v1 import verifier_pb2, verifier_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "switchyard"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
for variable in ("SWITCHYARD_TLS_CA", "SWITCHYARD_TLS_CERT", "SWITCHYARD_TLS_KEY"):
    ENV.pop(variable, None)
START_S = 30.0

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    """A set written by the CLI, as a user would."""
    out = tmp_path_factory.mktemp("certs")
    done = subprocess.run(
        [str(CLI), "certs", "dev", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return DevCerts(out)


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    """Another CA's set: trusted by nobody in these tests."""
    return write_dev_certs(tmp_path_factory.mktemp("stranger"), days=1)


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_certs_dev_writes_a_ca_and_the_certificates_it_signed(certs: DevCerts) -> None:
    """Every service certificate is signed by the CA, valid for localhost, 127.0.0.1
    and ::1, and usable to serve and as a client certificate; the client certificate
    is for clients only; every key file is owner-only."""
    ca = _load(certs.ca)
    for name in (*SERVICES, CLIENT):
        pair = certs.service(name)
        cert = _load(pair.cert)
        cert.verify_directly_issued_by(ca)
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
        assert (ExtendedKeyUsageOID.SERVER_AUTH in usages) == (name != CLIENT)
        assert pair.key.stat().st_mode & 0o077 == 0, f"{pair.key} is readable by others"
        if name != CLIENT:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert {"localhost", name} <= set(sans.get_values_for_type(x509.DNSName))
            assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {
                "127.0.0.1",
                "::1",
            }
    assert certs.ca_key.stat().st_mode & 0o077 == 0


def test_certs_dev_keeps_an_existing_set_unless_forced(tmp_path: Path) -> None:
    """A second run does not silently replace the CA others trust: exit 1; --force
    writes a new one; --host adds a name to the service certificates."""
    out = tmp_path / "certs"

    def certs_dev(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), "certs", "dev", "--out", str(out), *extra],
            capture_output=True,
            text=True,
            timeout=60,
            env=ENV,
            check=False,
        )

    assert certs_dev().returncode == 0
    first = DevCerts(out).ca.read_bytes()
    again = certs_dev()
    assert again.returncode == 1 and "--force" in again.stderr
    assert DevCerts(out).ca.read_bytes() == first
    assert certs_dev("--force", "--host", "router.test").returncode == 0
    assert DevCerts(out).ca.read_bytes() != first
    sans = _load(DevCerts(out).service("router").cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert "router.test" in sans.value.get_values_for_type(x509.DNSName)


@contextlib.asynccontextmanager
async def service(module: str, tmp_path: Path, *args: str) -> AsyncIterator[int]:
    """A service process on port 0; yields its port, stops it afterwards."""
    port_file = tmp_path / f"{module}.port"
    log = (tmp_path / f"{module}.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", module, "--port", "0", "--port-file", str(port_file), *args),
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + START_S
        while not port_file.exists():
            assert process.returncode is None, (tmp_path / f"{module}.log").read_text()
            assert time.monotonic() < deadline, f"{module} did not bind in time"
            await asyncio.sleep(0.05)
        yield int(port_file.read_text())
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


def server_flags(certs: DevCerts, name: str, *, mutual: bool = False) -> list[str]:
    pair = certs.service(name)
    flags = ["--tls-cert-file", str(pair.cert), "--tls-key-file", str(pair.key)]
    return [*flags, "--tls-client-ca-file", str(certs.ca)] if mutual else flags


async def health(port: int, tls: TlsConfig | None) -> str:
    """SERVING (or another health status), or the code of the failed call."""
    target = f"127.0.0.1:{port}"
    channel = (
        grpc.aio.secure_channel(target, tls.credentials())
        if tls is not None
        else grpc.aio.insecure_channel(target)
    )
    async with channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        except grpc.aio.AioRpcError as error:
            return error.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


async def test_a_tls_service_refuses_plaintext_and_untrusted_clients(
    certs: DevCerts, stranger: DevCerts, tmp_path: Path
) -> None:
    """The registry with a certificate: a plaintext client and a client that trusts
    another CA cannot connect (UNAVAILABLE, no RPC reaches the server); a client that
    trusts the CA gets health and ListModels."""
    async with service(
        "services.registry",
        tmp_path,
        "--db-path",
        str(tmp_path / "registry.db"),
        *server_flags(certs, "registry"),
    ) as port:
        assert await health(port, None) == "UNAVAILABLE"
        assert await health(port, TlsConfig(root_certificates=stranger.ca)) == "UNAVAILABLE"
        trusted = TlsConfig(root_certificates=certs.ca)
        assert await health(port, trusted) == "SERVING"
        async with grpc.aio.secure_channel(f"localhost:{port}", trusted.credentials()) as ch:
            listed = await registry_pb2_grpc.RegistryServiceStub(ch).ListModels(
                registry_pb2.ListModelsRequest(), timeout=5
            )
        assert list(listed.models) == []
    log = (tmp_path / "services.registry.log").read_text()
    assert '"transport":"tls"' in log


async def test_mutual_tls_requires_a_client_certificate_from_the_ca(
    certs: DevCerts, stranger: DevCerts, tmp_path: Path
) -> None:
    """The verifier with a client CA: TLS without a client certificate, or with one
    another CA signed, is refused; with the client certificate `certs dev` wrote, it
    answers."""
    async with service(
        "services.verifier", tmp_path, *server_flags(certs, "verifier", mutual=True)
    ) as port:
        no_cert = TlsConfig(root_certificates=certs.ca)
        assert await health(port, no_cert) == "UNAVAILABLE"
        foreign = TlsConfig(
            root_certificates=certs.ca,
            client_certificate=stranger.client.cert,
            client_key=stranger.client.key,
        )
        assert await health(port, foreign) == "UNAVAILABLE"
        assert await health(port, None) == "UNAVAILABLE"
        mutual = TlsConfig(
            root_certificates=certs.ca,
            client_certificate=certs.client.cert,
            client_key=certs.client.key,
        )
        assert await health(port, mutual) == "SERVING"
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", mutual.credentials()) as ch:
            checks = await verifier_pb2_grpc.VerifierServiceStub(ch).ListChecks(
                verifier_pb2.ListChecksRequest(), timeout=5
            )
        assert checks.checks
    log = (tmp_path / "services.verifier.log").read_text()
    assert '"transport":"mtls"' in log


# -- the whole suite: `switchyard run --mtls` -----------------------------------------


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`switchyard run --mtls` on ephemeral ports; yields the router address and the
    state dir (certificates under certs/, logs under logs/)."""
    state = tmp_path_factory.mktemp("mtls-suite")
    output = (state / "launcher.out").open("wb")
    process = subprocess.Popen(
        [str(CLI), "run", "--ports", "ephemeral", "--state-dir", str(state), "--mtls"],
        cwd=REPO,
        stdout=output,
        stderr=subprocess.STDOUT,
        env=ENV,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while b"Ctrl-C stops everything." not in (state / "launcher.out").read_bytes():
            assert process.poll() is None, (state / "launcher.out").read_text()
            assert time.monotonic() < deadline, (state / "launcher.out").read_text()
            time.sleep(0.2)
        yield f"127.0.0.1:{(state / 'router.port').read_text().strip()}", state
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        output.close()


def _route(router: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "route", *args, "--router", router, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_make_run_mtls_serves_every_service_and_channel_over_mutual_tls(
    launcher: tuple[str, Path],
) -> None:
    """The launcher wrote certificates and started every gRPC service with mutual TLS;
    the router got its fleet and policy over mutual-TLS channels (it answers by rule,
    not degraded), verified answers with the remote verifier over mutual TLS (no
    fallback to embedded checks), and the CLI called it with the exported TLS
    settings and, by default, the dev token."""
    router, state = launcher
    certs = DevCerts(state / "certs")
    assert certs.complete()
    banner = (state / "launcher.out").read_text()
    assert f"export SWITCHYARD_TLS_CA={certs.ca}" in banner
    for name in ("registry", "verifier", "controlplane", "router"):
        log = (state / "logs" / f"{name}.log").read_text()
        assert '"transport":"mtls"' in log, f"{name} is not serving mutual TLS"
    env = {
        **ENV,
        "SWITCHYARD_TLS_CA": str(certs.ca),
        "SWITCHYARD_TLS_CERT": str(certs.client.cert),
        "SWITCHYARD_TLS_KEY": str(certs.client.key),
    }
    long_prompt = "Please read these planning notes carefully and summarise them. " * 20
    for prompt, rule in (
        ("What is a B-tree?", "short-prompt-small"),
        (long_prompt, "cascade-small-large"),
    ):
        done = _route(router, prompt, env=env)
        assert done.returncode == 0, done.stderr
        reply = json.loads(done.stdout)
        assert reply["rule"] == rule and reply["policy_version"] == "1"
        assert reply["attempts"][0]["verdict"] != "ATTEMPT_VERDICT_NOT_VERIFIED"
    router_log = (state / "logs" / "router.log").read_text()
    for event in ("verifier.fallback_embedded", "fleet.watch_failed", "policy.stream_failed"):
        assert f'"event":"{event}"' not in router_log, f"router logged {event}"
    assert '"tenant":"demo"' in router_log  # the dev token's tenant


def test_make_run_mtls_refuses_clients_without_tls_or_a_certificate(
    launcher: tuple[str, Path],
) -> None:
    """Against the mutual-TLS suite, the CLI without TLS, or with TLS but no client
    certificate, cannot connect (exit 3) and says what to pass."""
    router, state = launcher
    certs = DevCerts(state / "certs")
    plaintext = _route(router, "Hi", env=ENV)
    assert plaintext.returncode == 3
    assert "--tls-ca" in plaintext.stderr
    no_cert = _route(router, "Hi", env={**ENV, "SWITCHYARD_TLS_CA": str(certs.ca)})
    assert no_cert.returncode == 3, no_cert.stderr
