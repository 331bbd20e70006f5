"""TLS settings and the transport rule: a bearer token never goes out in plaintext to
an address that is not loopback (switchyard.runtime.tls), in the client and in every
service-to-service channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.config import ControlPlaneConfig
from services.router.config import RouterConfig
from switchyard.client import ClientConfig, PlaintextTokenError, TlsConfig
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import StartupError
from switchyard.runtime.tls import (
    check_token_transport,
    is_loopback,
    open_upstream_channel,
    read_pem,
    server_credentials,
    upstream_tls,
)


@pytest.mark.parametrize(
    "target",
    [
        "127.0.0.1:50051",
        "127.8.9.10:1",
        "localhost:50051",
        "LOCALHOST:1",
        "api.localhost:1",
        "[::1]:50051",
        "::1",
        "dns:///localhost:50051",
        "dns:localhost:50051",
        "ipv4:127.0.0.1:1,127.0.0.2:2",
        "ipv6:[::1]:50051",
        "unix:/tmp/router.sock",
        "unix-abstract:switchyard",
    ],
)
def test_loopback_targets(target: str) -> None:
    """Loopback IPs (v4 and v6), localhost names and local sockets stay on the machine,
    in every gRPC target syntax."""
    assert is_loopback(target)


@pytest.mark.parametrize(
    "target",
    [
        "10.0.0.5:50051",
        "router.internal:50051",
        "[2001:db8::1]:50051",
        "0.0.0.0:50051",
        "dns:///router.example.com:443",
        "ipv4:127.0.0.1:1,10.0.0.1:2",  # one remote address is enough to refuse
        "localhost.example.com:1",  # a name, not the loopback name
        "128.0.0.1:1",
        "",
    ],
)
def test_non_loopback_targets(target: str) -> None:
    """Anything that may leave the machine is not loopback; names are not resolved."""
    assert not is_loopback(target)


def test_token_over_plaintext_to_another_host_is_refused() -> None:
    """A token is refused only on plaintext to a non-loopback address; TLS, loopback
    and token-less calls pass."""
    with pytest.raises(PlaintextTokenError, match=r"10\.0\.0\.5:50051"):
        check_token_transport("10.0.0.5:50051", secure=False, sends_token=True)
    check_token_transport("10.0.0.5:50051", secure=True, sends_token=True)
    check_token_transport("127.0.0.1:50051", secure=False, sends_token=True)
    check_token_transport("10.0.0.5:50051", secure=False, sends_token=False)


def test_client_config_refuses_a_plaintext_token_to_another_host() -> None:
    """ClientConfig (every Python client and CLI command) refuses to be built with a
    token, or an authorization header in its metadata, over plaintext to a remote
    address; with TLS or to loopback it is fine."""
    with pytest.raises(PlaintextTokenError, match="not a loopback address"):
        ClientConfig(address="router.example.com:50051", token="secret")
    with pytest.raises(PlaintextTokenError):
        ClientConfig(address="10.1.1.1:50051", metadata=(("Authorization", "Bearer secret"),))
    ClientConfig(address="router.example.com:50051", token="secret", tls=TlsConfig())
    ClientConfig(address="127.0.0.1:50051", token="secret")
    ClientConfig(address="router.example.com:50051")


def test_client_config_does_not_print_its_token() -> None:
    """The token stays out of the config's repr (and so out of logs and tracebacks)."""
    assert "s3cret" not in repr(ClientConfig(token="s3cret"))


def test_upstream_channel_refuses_a_plaintext_token_to_another_host() -> None:
    """The helper every service-to-service channel is opened with fails at startup,
    naming the address, rather than put the token on the network."""
    with pytest.raises(StartupError, match=r"10\.0\.0\.9:50052"):
        open_upstream_channel("10.0.0.9:50052", None, token="read-token")


async def test_upstream_channel_plaintext_and_tls(tmp_path: Path) -> None:
    """Without TLS settings the channel is plaintext; with a CA it is TLS (the CA file
    is read when the channel is made: a missing one is a StartupError)."""
    channel = open_upstream_channel("127.0.0.1:1", None, token="t")
    await channel.close()
    with pytest.raises(StartupError, match="cannot read CA file"):
        open_upstream_channel("10.0.0.9:1", TlsConfig(root_certificates=tmp_path / "none.pem"))


def test_router_refuses_a_registry_token_in_plaintext_to_another_host() -> None:
    """The router's registry token with a remote registry needs registry TLS: the
    config fails at start, naming the setting to fix."""
    with pytest.raises(StartupError, match="registry_tls_ca_file"):
        RouterConfig(registry_address="registry.internal:50052", registry_token="r")
    RouterConfig(
        registry_address="registry.internal:50052",
        registry_token="r",
        registry_tls_ca_file="ca.pem",
    )
    RouterConfig(registry_address="127.0.0.1:50052", registry_token="r")


def test_router_refuses_to_relay_callers_tokens_in_plaintext_to_another_host() -> None:
    """A relayed feedback call carries its caller's bearer token: with callers' tokens
    on, a peer on another host needs peer TLS; without tokens, or on loopback, it does
    not."""
    with pytest.raises(StartupError, match="peer_tls_ca_file"):
        RouterConfig(feedback_peers=("router-b.internal:50051",), tenant_tokens_file="t.yaml")
    RouterConfig(
        feedback_peers=("router-b.internal:50051",),
        tenant_tokens_file="t.yaml",
        peer_tls_ca_file="ca.pem",
    )
    RouterConfig(feedback_peers=("router-b.internal:50051",))
    RouterConfig(feedback_peers=("127.0.0.1:50061",), tenant_tokens_file="t.yaml")


def test_control_plane_refuses_a_registry_token_in_plaintext_to_another_host() -> None:
    """The same rule for the control plane's registry lookups."""
    with pytest.raises(StartupError, match="registry_tls_ca_file"):
        ControlPlaneConfig(registry_address="10.2.2.2:50052", registry_token="r")
    ControlPlaneConfig(
        registry_address="10.2.2.2:50052", registry_token="r", registry_tls_ca_file="ca.pem"
    )


def test_server_tls_settings_must_fit_together() -> None:
    """A certificate needs its key and the reverse; mutual TLS needs TLS."""
    with pytest.raises(StartupError, match="tls_cert_file and tls_key_file"):
        ServerConfig(tls_cert_file="c.pem")
    with pytest.raises(StartupError, match="tls_cert_file and tls_key_file"):
        ServerConfig(tls_key_file="k.pem")
    with pytest.raises(StartupError, match="needs TLS"):
        ServerConfig(tls_client_ca_file="ca.pem")
    assert ServerConfig().transport == "plaintext"
    assert ServerConfig(tls_cert_file="c", tls_key_file="k").transport == "tls"
    mtls = ServerConfig(tls_cert_file="c", tls_key_file="k", tls_client_ca_file="ca")
    assert mtls.transport == "mtls"


def test_upstream_tls_settings() -> None:
    """An upstream is TLS when its CA is set, mutual with a client cert and key; a cert
    without its key, or a client cert without a CA, is refused by name."""
    assert upstream_tls("registry", ca_file="", cert_file="", key_file="") is None
    tls = upstream_tls("registry", ca_file="ca.pem", cert_file="", key_file="")
    assert tls == TlsConfig(root_certificates=Path("ca.pem")) and not tls.mutual
    mutual = upstream_tls("verifier", ca_file="ca.pem", cert_file="c.pem", key_file="k.pem")
    assert mutual is not None and mutual.mutual
    with pytest.raises(StartupError, match="verifier_tls_cert_file and verifier_tls_key_file"):
        upstream_tls("verifier", ca_file="ca.pem", cert_file="c.pem", key_file="")
    with pytest.raises(StartupError, match="set controlplane_tls_ca_file"):
        upstream_tls("controlplane", ca_file="", cert_file="c.pem", key_file="k.pem")
    with pytest.raises(StartupError, match="verifier_tls"):
        RouterConfig(verifier_tls_cert_file="c.pem")


def test_pem_files_are_checked_with_a_clear_error(tmp_path: Path) -> None:
    """A missing file, or one without the PEM block expected, names the setting."""
    with pytest.raises(StartupError, match="cannot read tls_key_file"):
        server_credentials(cert_file=str(tmp_path / "no.pem"), key_file=str(tmp_path / "k"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(StartupError, match="holds no PEM certificate"):
        read_pem(junk, setting="tls_cert_file")
    with pytest.raises(StartupError, match="holds no PEM private key"):
        read_pem(junk, setting="tls_key_file", key=True)
