"""Cluster secrets made once per cluster and kept outside the profiles, in a 0600 file.

Like Cluster API's kubeadm bootstrap, the CAs are generated up front: control-plane artifacts carry them
so `kubeadm init` (and later control-plane joins) use them, and every joining node learns the CA's
public-key hash at render time. Rendering nodes of one cluster in any order gives the same values.
"""

import datetime
import hashlib
import os
import secrets as random
import string
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SECRETS_ENV = "K8S_FIRSTBOOT_SECRETS_DIR"
CA_YEARS = 10
# NotBefore this far before render time. kubeadm refuses a CA that is "not yet valid" by the node's clock, and
# a bare-metal clock can be far behind before NTP runs: an RTC kept in local time is up to 14 h off, a stored
# machine's RTC drifts for weeks. A week covers those at no cost (validity only reaches further into the past).
CA_BACKDATE = datetime.timedelta(days=7)
TOKEN_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class KeyPair:
    cert: str  # PEM certificate (or public key for the service-account pair)
    key: str   # PEM private key


@dataclass(frozen=True)
class ClusterSecrets:
    ca: KeyPair
    front_proxy_ca: KeyPair
    etcd_ca: KeyPair
    service_account: KeyPair
    token: str

    @property
    def ca_cert_hash(self) -> str:
        return ca_cert_hash(self.ca.cert)


def ca_cert_hash(cert_pem: str) -> str:
    """kubeadm's discovery hash: SHA-256 of the CA certificate's DER SubjectPublicKeyInfo."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def new_token() -> str:
    pick = lambda n: "".join(random.choice(TOKEN_ALPHABET) for _ in range(n))  # noqa: E731
    return f"{pick(6)}.{pick(16)}"


def _private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def _new_key() -> ec.EllipticCurvePrivateKey:
    # ECDSA P-256: kubeadm loads RSA or ECDSA CA and service-account keys from 1.18 on, and P-256 keys are a
    # seventh the size of RSA-2048 ones, which keeps control-plane user-data inside EC2's 16 KiB
    return ec.generate_private_key(ec.SECP256R1())


def _new_ca(common_name: str) -> KeyPair:
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
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(), _private_key_pem(key))


def _new_service_account() -> KeyPair:
    key = _new_key()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return KeyPair(public.decode(), _private_key_pem(key))


def generate() -> ClusterSecrets:
    # the CNs are the ones kubeadm gives the CAs it makes itself
    return ClusterSecrets(
        ca=_new_ca("kubernetes"),
        front_proxy_ca=_new_ca("front-proxy-ca"),
        etcd_ca=_new_ca("etcd-ca"),
        service_account=_new_service_account(),
        token=new_token(),
    )


def default_dir() -> Path:
    if os.environ.get(SECRETS_ENV):
        return Path(os.environ[SECRETS_ENV])
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "k8s-firstboot"


def secrets_path(cluster: str, directory: Path | None = None) -> Path:
    return (directory or default_dir()) / f"{cluster}.secrets.yaml"


def _to_data(s: ClusterSecrets) -> dict:
    pair = lambda p: {"cert": p.cert, "key": p.key}  # noqa: E731
    return {"version": 1, "token": s.token, "ca": pair(s.ca), "front_proxy_ca": pair(s.front_proxy_ca),
            "etcd_ca": pair(s.etcd_ca), "service_account": pair(s.service_account)}


def _from_data(d: dict) -> ClusterSecrets:
    pair = lambda k: KeyPair(d[k]["cert"], d[k]["key"])  # noqa: E731
    return ClusterSecrets(pair("ca"), pair("front_proxy_ca"), pair("etcd_ca"), pair("service_account"), d["token"])


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def load(path: Path) -> ClusterSecrets:
    try:
        return _from_data(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (KeyError, TypeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: damaged cluster secrets file ({exc}); restore it from backup") from None


def load_or_create(cluster: str, directory: Path | None = None) -> ClusterSecrets:
    path = secrets_path(cluster, directory)
    if path.exists():
        return load(path)
    fresh = generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:  # O_EXCL: if another render made the file meanwhile, use that one
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load(path)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# k8s-firstboot cluster secrets: CA keys and bootstrap token. Keep private; back up.\n")
        handle.write(yaml.safe_dump(_to_data(fresh), sort_keys=False))
    return fresh


def load_or_throwaway(cluster: str, directory: Path | None = None) -> ClusterSecrets:
    """The cluster's secrets if they exist, else fresh ones that are not kept (for checks that write nothing)."""
    path = secrets_path(cluster, directory)
    return load(path) if path.exists() else generate()


def renew_token(cluster: str, directory: Path | None = None) -> ClusterSecrets:
    """Replace the bootstrap token (after it expired); the CAs stay."""
    path = secrets_path(cluster, directory)
    current = load(path) if path.exists() else load_or_create(cluster, directory)
    renewed = ClusterSecrets(current.ca, current.front_proxy_ca, current.etcd_ca, current.service_account, new_token())
    write_private(path, "# k8s-firstboot cluster secrets: CA keys and bootstrap token. Keep private; back up.\n"
                  + yaml.safe_dump(_to_data(renewed), sort_keys=False))
    return renewed
