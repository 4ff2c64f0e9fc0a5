"""Cluster secrets made once per cluster and kept outside the profiles, in a 0600 file.

Like Cluster API's kubeadm bootstrap, the CAs are generated up front: control-plane artifacts carry them
so `kubeadm init` (and later control-plane joins) use them, and every joining node learns the CA's
public-key hash at render time. Rendering nodes of one cluster in any order gives the same values.
"""

import contextlib
import contextvars
import dataclasses
import hashlib
import json
import os
import re
import secrets as random
import stat
import string
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.errors import Problem, ProfileError
from generator.memo import Recent
from generator.private import create_exclusively, directory_problem, write_atomically

SECRETS_ENV = "K8S_FIRSTBOOT_SECRETS_DIR"
FILE_HEADER = "# k8s-firstboot cluster secrets: CA keys and bootstrap token. Keep private; back up.\n"
TOKEN_ALPHABET = string.ascii_lowercase + string.digits
# kubeadm's bootstrap token format (cmd/kubeadm/app/apis/bootstraptoken: BootstrapTokenPattern)
TOKEN_FORMAT = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")
CA_HASH_FORMAT = re.compile(r"sha256:[0-9a-f]{64}")  # as cluster.join.ca_cert_hash in the schema
# exactly one PEM block and nothing around it: the text goes verbatim into Kickstart heredocs and user-data
PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\n(?:[A-Za-z0-9+/=]{1,76}\n)+-----END \1-----\n?")
MAX_SECRETS_BYTES = 64 * 1024  # four key pairs take about 3 KiB as P-256, about 25 KiB as RSA-4096


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
    ca_cert_hash: str  # kubeadm's discovery hash of `ca` (generator.keys.ca_cert_hash)


def new_token() -> str:
    pick = lambda n: "".join(random.choice(TOKEN_ALPHABET) for _ in range(n))  # noqa: E731
    return f"{pick(6)}.{pick(16)}"


def generate() -> ClusterSecrets:
    from generator import keys  # cryptography: only when secrets are made

    ca = KeyPair(*keys.new_ca("kubernetes"))  # the CNs are the ones kubeadm gives the CAs it makes itself
    return ClusterSecrets(
        ca=ca,
        front_proxy_ca=KeyPair(*keys.new_ca("front-proxy-ca")),
        etcd_ca=KeyPair(*keys.new_ca("etcd-ca")),
        service_account=KeyPair(*keys.new_service_account()),
        token=new_token(),
        ca_cert_hash=keys.ca_cert_hash(ca.cert),
    )


def default_dir() -> Path:
    if os.environ.get(SECRETS_ENV):
        return Path(os.environ[SECRETS_ENV])
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "k8s-firstboot"


def secrets_path(cluster: str, directory: Path | None = None) -> Path:
    return (directory or default_dir()) / f"{cluster}.secrets.yaml"


def _checksum(data: dict) -> str:
    """SHA-256 of every entry but `checked` itself, in a canonical JSON form."""
    canonical = json.dumps({k: v for k, v in data.items() if k != "checked"}, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _to_data(s: ClusterSecrets) -> dict:
    pair = lambda p: {"cert": p.cert, "key": p.key}  # noqa: E731
    data = {"version": 1, "token": s.token, "ca": pair(s.ca), "front_proxy_ca": pair(s.front_proxy_ca),
            "etcd_ca": pair(s.etcd_ca), "service_account": pair(s.service_account), "ca_cert_hash": s.ca_cert_hash}
    # gen writes only secrets it made or checked; while the checksum matches, a read needs no key parsing
    data["checked"] = _checksum(data)
    return data


def _problem(path: Path, message: str) -> ProfileError:
    return ProfileError([Problem(str(path), 0, "secrets", message)])


def _framed_pair(path: Path, name: str, entry) -> KeyPair:
    """A certificate (or public key) and its private key, each exactly one PEM block."""
    if not isinstance(entry, dict) or not isinstance(entry.get("cert"), str) or not isinstance(entry.get("key"), str):
        raise _problem(path, f"{name}: needs `cert` and `key` PEM texts")
    for part in ("cert", "key"):
        if not PEM_BLOCK.fullmatch(entry[part]):
            raise _problem(path, f"{name}.{part}: not a single PEM block (text before or after it, or a damaged body)")
    return KeyPair(entry["cert"], entry["key"])


def _checked_ca_hash(path: Path, pairs: dict[str, KeyPair]) -> str:
    """Every pair parsed and matched (its private key is its certificate's or public key's); the CA's hash."""
    from generator import keys  # cryptography: only for a file gen did not write as it is now

    for name, pair in pairs.items():
        is_ca = name != "service_account"
        try:
            keys.check_pair(pair.cert, pair.key, is_ca)
        except keys.KeyMismatch:
            raise _problem(path, f"{name}: the key does not belong to its "
                                 f"{'certificate' if is_ca else 'public key'}") from None
        except (ValueError, TypeError) as exc:
            raise _problem(path, f"{name}: unreadable PEM ({exc})") from None
    return keys.ca_cert_hash(pairs["ca"].cert)


def _from_data(path: Path, d) -> ClusterSecrets:
    if not isinstance(d, dict):
        raise _problem(path, "not a cluster secrets file (expected a mapping with token and CAs)")
    token = d.get("token")
    if not isinstance(token, str) or not TOKEN_FORMAT.fullmatch(token):
        raise _problem(path, "token: not a kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})")
    pairs = {name: _framed_pair(path, name, d.get(name)) for name in ("ca", "front_proxy_ca", "etcd_ca", "service_account")}
    if d.get("checked") == _checksum(d) and CA_HASH_FORMAT.fullmatch(str(d.get("ca_cert_hash"))):
        ca_hash = d["ca_cert_hash"]  # as gen wrote it, right after making or checking these keys
    else:  # written by hand, pieced together from other files, or by an older gen
        ca_hash = _checked_ca_hash(path, pairs)
    return ClusterSecrets(**pairs, token=token, ca_cert_hash=ca_hash)


def _private_directory(directory: Path) -> Path:
    """The secrets directory, made 0700 if missing; refused unless it and every folder above it are trusted."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:  # read-only, or a file where a folder would be
        raise _problem(directory, f"cannot make the cluster secrets folder: {exc.strerror}") from None
    real = directory.resolve()
    for folder in (real, *real.parents):
        problem = directory_problem(folder)
        if problem:
            raise _problem(directory, f"cluster secrets are not kept here: {problem}")
    mode = stat.S_IMODE(os.stat(real).st_mode)
    if mode & 0o077:
        raise _problem(directory, f"the cluster secrets directory must be 0700, not {mode:04o} (chmod 700 {directory})")
    return directory


def _open_private(path: Path) -> int | None:
    """A descriptor of the user's own 0600 secrets file (never through a symlink), or None if there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _problem(path, f"cannot open it without following links: {exc.strerror}") from None
    info = os.fstat(fd)
    reason = None
    if not stat.S_ISREG(info.st_mode):
        reason = "not a regular file"
    elif info.st_uid != os.geteuid():
        reason = f"belongs to uid {info.st_uid}, not to you (uid {os.geteuid()}); someone else may have planted it"
    elif stat.S_IMODE(info.st_mode) & 0o077:
        reason = f"mode {stat.S_IMODE(info.st_mode):04o}: others may have read or changed it; it must be 0600"
    elif info.st_size > MAX_SECRETS_BYTES:
        reason = f"{info.st_size} bytes, far larger than a secrets file"
    if reason:
        os.close(fd)
        raise _problem(path, f"refused: {reason}")
    return fd


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically."""
    _private_directory(path.parent)
    write_atomically(path, text.encode("utf-8"), 0o600)


# secrets already parsed and checked, by the file's path and bytes: a build reads one cluster's file for each of
# its nodes. The file is still read each time, so a changed file (gen token renew, a restore) is parsed again.
_PARSED = Recent(8)  # by (path, bytes): a few clusters' files at a time


def _read(path: Path) -> ClusterSecrets | None:
    """The checked secrets in `path`, or None if the file does not exist."""
    fd = _open_private(path)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(MAX_SECRETS_BYTES + 1)
    try:
        return _PARSED.get((str(path), raw), lambda: _from_data(path, yaml.safe_load(raw.decode("utf-8"))))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        # the line only: PyYAML's message quotes the text around it, which may be key material
        mark = getattr(exc, "problem_mark", None)
        where = f" near line {mark.line + 1}" if mark else ""
        raise _problem(path, f"damaged cluster secrets file{where}; restore it from backup") from None


def load(path: Path) -> ClusterSecrets:
    _private_directory(path.parent)
    found = _read(path)
    if found is None:
        raise _problem(path, "no cluster secrets file here")
    return found


# within `one_reading()`: the secrets read so far, by path (gen build reads each cluster's file once); a context
# variable, so two builds in two threads each have their own
_READ_ONCE: contextvars.ContextVar[dict[Path, ClusterSecrets] | None] = contextvars.ContextVar("secrets_read_once",
                                                                                               default=None)


@contextlib.contextmanager
def one_reading():
    """Within it, a process reads, checks and (if missing) makes each cluster's secrets once, not once for each
    node it resolves (gen build: a few syscalls and a hash of the file less per node). Processes forked inside
    start with what was read before the fork."""
    token = _READ_ONCE.set(_READ_ONCE.get() if _READ_ONCE.get() is not None else {})
    try:
        yield
    finally:
        _READ_ONCE.reset(token)


def load_or_create(cluster: str, directory: Path | None = None) -> ClusterSecrets:
    path = secrets_path(cluster, directory)
    read = _READ_ONCE.get()
    if read is None:
        return _load_or_create(cluster, path)
    if path not in read:
        read[path] = _load_or_create(cluster, path)
    return read[path]


def _load_or_create(cluster: str, path: Path) -> ClusterSecrets:
    _private_directory(path.parent)
    found = _read(path)
    if found is not None:
        return found
    fresh = generate()
    # whole or not at all, and only if no other render made it meanwhile (then that one is used): another
    # process of the same build may read the file the moment it exists
    try:
        made = create_exclusively(path, (FILE_HEADER + yaml.safe_dump(_to_data(fresh), sort_keys=False)).encode())
    except OSError as exc:
        raise _problem(path, f"cannot write the cluster secrets here: {exc.strerror}") from None
    if not made:
        return load(path)
    # a new CA changes every node's pinned hash: whoever renders must know one was made, and where
    print(f"gen: made the secrets of cluster {cluster} (CAs, bootstrap token) in {path}; back it up: every node "
          f"of the cluster must be rendered from this file", file=sys.stderr)
    return fresh


def exist(cluster: str, directory: Path | None = None) -> bool:
    """Whether the cluster has a secrets file (or anything at its name, which reading it will judge)."""
    return os.path.lexists(secrets_path(cluster, directory))


def load_or_throwaway(cluster: str, directory: Path | None = None) -> ClusterSecrets:
    """The cluster's secrets if they exist, else fresh ones that are not kept (for checks that write nothing)."""
    if not exist(cluster, directory):
        return generate()
    return load(secrets_path(cluster, directory))


def missing_note(cluster: str, directory: Path | None = None, joins_by_profile: bool = False) -> str:
    """What a check that makes nothing says when the cluster has no secrets yet ("" when it has, or when the
    node joins with cluster.join from its profile and needs none)."""
    if joins_by_profile or exist(cluster, directory):
        return ""
    path = secrets_path(cluster, directory)
    return (f"cluster {cluster} has no secrets yet ({path}); nothing was made: the first `gen ks`, "
            f"`gen cloud-init` or `gen build` makes them")


def renew_token(cluster: str, directory: Path | None = None) -> ClusterSecrets:
    """Replace the bootstrap token (after it expired); the CAs stay."""
    path = secrets_path(cluster, directory)
    current = load_or_create(cluster, directory)
    renewed = dataclasses.replace(current, token=new_token())
    write_private(path, FILE_HEADER
                  + yaml.safe_dump(_to_data(renewed), sort_keys=False))
    return renewed
