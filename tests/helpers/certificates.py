"""A throwaway certificate authority for TLS tests: a CA, a server and a client certificate,
written as PEM files (EC keys, valid for a day)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pem:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Authority:
    ca: Path
    server: Pem  # for 127.0.0.1 and localhost
    client: Pem


def make_authority(folder: Path) -> Authority:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("test CA")
    ca = _builder(ca_name, ca_name, ca_key).add_extension(
        x509.BasicConstraints(ca=True, path_length=None), critical=True
    )
    ca_cert = ca.sign(ca_key, hashes.SHA256())
    ca_path = folder / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    names = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
    )
    server = _leaf(folder, "server", ca_cert, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, names)
    client = _leaf(folder, "client", ca_cert, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, None)
    return Authority(ca_path, server, client)


def _leaf(
    folder: Path,
    name: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    names: x509.SubjectAlternativeName | None,
) -> Pem:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _builder(_name(name), ca_cert.subject, key).add_extension(
        x509.ExtendedKeyUsage([usage]), critical=False
    )
    if names is not None:
        builder = builder.add_extension(names, critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    pem = Pem(folder / f"{name}.pem", folder / f"{name}-key.pem")
    pem.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )
