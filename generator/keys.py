"""The cluster's key pairs, made and checked with cryptography.

Kept apart from generator.secrets because importing cryptography costs more than a whole render of the other
stages: only making secrets, or checking a secrets file that gen did not write as it is now, needs it.
"""

import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CA_YEARS = 10
# NotBefore this far before render time. kubeadm refuses a CA that is "not yet valid" by the node's clock, and
# a bare-metal clock can be far behind before NTP runs: an RTC kept in local time is up to 14 h off, a stored
# machine's RTC drifts for weeks. A week covers those at no cost (validity only reaches further into the past).
CA_BACKDATE = datetime.timedelta(days=7)


class KeyMismatch(Exception):
    """A private key that is not the one of its certificate or public key."""


def ca_cert_hash(cert_pem: str) -> str:
    """kubeadm's discovery hash: SHA-256 of the CA certificate's DER SubjectPublicKeyInfo."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return "sha256:" + hashlib.sha256(_public_der(cert.public_key())).hexdigest()


def _private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def _new_key() -> ec.EllipticCurvePrivateKey:
    # ECDSA P-256: kubeadm loads RSA or ECDSA CA and service-account keys from 1.18 on, and P-256 keys are a
    # seventh the size of RSA-2048 ones, which keeps control-plane user-data inside EC2's 16 KiB
    return ec.generate_private_key(ec.SECP256R1())


def new_ca(common_name: str) -> tuple[str, str]:
    """(certificate PEM, private key PEM) of a new self-signed CA."""
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CA_BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=True,
                                     content_commitment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), _private_key_pem(key)


def new_service_account() -> tuple[str, str]:
    """(public key PEM, private key PEM) of a new service-account signing key."""
    key = _new_key()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.decode(), _private_key_pem(key)


def _public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_pair(cert_pem: str, key_pem: str, is_ca: bool) -> None:
    """Both PEM texts parse, and the private key is the certificate's (or public key's) own.
    Raises ValueError or TypeError for unreadable PEM, KeyMismatch for a key of another pair."""
    if is_ca:
        public = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    else:
        public = serialization.load_pem_public_key(cert_pem.encode())
    private = serialization.load_pem_private_key(key_pem.encode(), password=None)
    if _public_der(private.public_key()) != _public_der(public):
        raise KeyMismatch
