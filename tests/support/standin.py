#!/usr/bin/python3
"""Stand-in for the commands the bootstrap runs (dnf, systemctl, kubeadm, ...) inside the sandbox.

Installed under /usr/local/bin in the sandbox as one symlink per command. Each call is appended to
/opt/record/calls (one line: the command and its arguments, tab-separated) and leaves behind the files
the real command would, so later steps see a believable system. /opt/record/faults may make a command
fail: each line is `<count|always> <command> [<argument>] [kill]`; the line applies to calls of <command>
that have <argument> among their arguments; a count is used up one call at a time.

`kill` simulates a power cut instead of a failure: the command reaches its crash point (midway for
`kubeadm init`: static pod manifests written, no kubeconfigs yet; after its work for every other command)
and then every process of the sandbox dies by SIGKILL, the bootstrap script included, so nothing after
that point runs: no step marker, no EXIT trap, no status update.

Commands in PASSTHROUGH (sed, cp, rm, ...) are real tools; the sandbox puts a stand-in in front of them only
when a test asks for a crash point inside a step that calls no other stand-in (Sandbox.watch). They run
the real program, are not recorded, and honour `kill` faults only.
"""

import os
import re
import signal
import sys
from pathlib import Path

# shutil and subprocess are imported where needed: every stand-in call starts a Python, and the fault and
# crash tests make thousands of them

RECORD = Path("/opt/record")
NAME = Path(sys.argv[0]).name
ARGS = sys.argv[1:]

# what a fresh package install leaves on disk, where a later step depends on it
PACKAGE_FILES = {
    "cri-o": {
        "/etc/crio/crio.conf": '[crio.runtime]\nconmon = "/usr/libexec/crio/conmon"\n',
        "/etc/cni/net.d/100-crio-bridge.conf": '{"name": "crio-bridge"}\n',
        "/etc/cni/net.d/11-crio-ipv4-bridge.conflist": '{"name": "crio"}\n',
        "/etc/crictl.yaml": "runtime-endpoint: unix:///var/run/crio/crio.sock\n",
    },
}

# What each package puts on PATH, per version: a command of this table exists only once `dnf install` has
# installed its package (the Sandbox installs the base image's packages up front). Rows and sources are in
# docs/upstream-contracts.md, section "Packages". Add a package here with the commands it ships.
PACKAGE_BINARIES = {
    "kubelet": ("kubelet",),
    "kubeadm": ("kubeadm",),
    "kubectl": ("kubectl",),
    "cri-tools": ("crictl",),             # the only package that ships crictl (CRI-O's RPM ships /etc/crictl.yaml only)
    "cri-o": ("crio", "pinns"),
    "firewalld": ("firewall-cmd", "firewall-offline-cmd"),
    "keepalived": ("keepalived",),
    "iproute-tc": ("tc",),
    "subscription-manager": ("subscription-manager",),
}
COMMAND_PACKAGE = {command: package for package, commands in PACKAGE_BINARIES.items() for command in commands}
# package -> {dependency: last Kubernetes minor whose package required it}: kubeadm required cri-tools up to
# 1.31 (kubernetes/release#3626, kubernetes#124685)
PACKAGE_REQUIRES_UNTIL = {"kubeadm": {"cri-tools": "1.31"}}
# which packages a repository offers, by repository id (ours, the stock ones and redhat.repo's)
REPO_OFFERS = (
    (r"^kubernetes$", {"kubelet", "kubeadm", "kubectl", "cri-tools", "kubernetes-cni"}),
    (r"cri-o", {"cri-o"}),
    (r"^devel_kubic_libcontainers_stable$", {"conmon", "containers-common"}),
    (r"container-selinux", {"container-selinux"}),
    (r"(?i)(^|[-_])(baseos|appstream|extras|fedora|updates)([-_]|$)",
     {"firewalld", "keepalived", "iproute-tc", "container-selinux", "subscription-manager", "conmon",
      "containers-common", "zram-generator-defaults", "chrony", "curl", "tar"}),
)
# the options each dnf accepts (of those a bootstrap could use); dnf5 dropped --disableexcludes
# (dnf5 doc/changes_from_dnf4.7.rst); both take --setopt=disable_excludes=
DNF_OPTIONS = {
    "dnf4": {"-y", "--assumeyes", "-q", "--quiet", "--setopt", "--disableexcludes", "--disablerepo", "--enablerepo",
             "--nogpgcheck", "--refresh"},
    "dnf5": {"-y", "--assumeyes", "-q", "--quiet", "--setopt", "--disable-repo", "--enable-repo", "--disablerepo",
             "--enablerepo", "--no-gpgchecks", "--refresh"},
}
DNF_COMMANDS = {"install", "update", "upgrade", "remove", "makecache"}


def record() -> None:
    RECORD.mkdir(parents=True, exist_ok=True)
    with open(RECORD / "calls", "a", encoding="utf-8") as log:
        log.write("\t".join([NAME, *ARGS]) + "\n")
    if os.environ.get("https_proxy"):  # which calls would have gone through the profile's proxy
        with open(RECORD / "proxied", "a", encoding="utf-8") as log:
            log.write(f"{NAME}\t{os.environ['https_proxy']}\t{os.environ.get('no_proxy', '')}\n")


# sha256sum is the real one: a checksum check that passes anything would prove nothing
PASSTHROUGH = {"sed", "cp", "rm", "install", "mkdir", "cat", "touch", "sha256sum"}
CRASH = False


def injected_fault() -> str | None:
    """None, "fail" or "kill": what /opt/record/faults says this call does."""
    faults = RECORD / "faults"
    if not faults.exists():
        return None
    lines = faults.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        count, command, *rest = line.split()
        mode = "kill" if rest and rest[-1] == "kill" else "fail"
        first = rest[:-1] if mode == "kill" else rest
        if command != NAME or (first and first[0] not in ARGS):
            continue
        if count != "always":
            left = int(count) - 1
            lines[i] = line.replace(count, str(left), 1) if left else ""
            faults.write_text("\n".join(l for l in lines if l) + "\n")
        return mode
    return None


def power_cut() -> None:
    """SIGKILL every process of the sandbox (bubblewrap's PID namespace), then this one."""
    # kill(-1) reaches every process this one may signal; only inside the sandbox's own PID namespace,
    # whose init is bwrap, is that the sandbox alone. Anywhere else refuse loudly instead.
    if Path("/proc/1/comm").read_text().strip() != "bwrap":
        print("standin: refusing a power cut outside the bubblewrap sandbox", file=sys.stderr)
        os._exit(99)
    sys.stdout.flush()
    os.kill(-1, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def crash_point() -> None:
    """Where a `kill` fault cuts the power while this command runs."""
    if CRASH:
        power_cut()


def write(path: str, text: str, mode: int = 0o644) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    p.chmod(mode)


def option(flag: str) -> str | None:
    for i, arg in enumerate(ARGS):
        if arg == flag and i + 1 < len(ARGS):
            return ARGS[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def os_release() -> dict:
    path = Path("/etc/os-release")
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().replace('"', "").splitlines() if "=" in line)


def dnf_flavour() -> str:
    """dnf5 on Fedora 41 and later, dnf4 on EL8/9/10 (dnf-plugins-core#572: dnf5 replaces dnf from EL11)."""
    release = os_release()
    return "dnf5" if release.get("ID") == "fedora" and int(release.get("VERSION_ID", "0")) >= 41 else "dnf4"


def installed(package: str) -> bool:
    return Path(f"/var/lib/standin-rpm/{package}").exists()


def is_private(host: str) -> bool:
    """The site's own hosts (mirrors, the API endpoint, status pages) answer; the profiles name them so."""
    import ipaddress
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return "." not in host or host.endswith((".lan", ".example", ".internal", ".local", ".test", ".localdomain"))


def reachable(url: str) -> bool:
    """Whether a URL answers: a private host, a file, or a prefix listed in /opt/record/reachable (`*`: all)."""
    from urllib.parse import urlsplit
    listed = RECORD / "reachable"
    prefixes = listed.read_text().split() if listed.exists() else []
    if "*" in prefixes:
        return True
    if url.startswith("file://"):
        return Path(url[len("file://"):]).exists()
    if is_private(urlsplit(url).hostname or ""):
        return True
    return any(url.startswith(p) for p in prefixes)


def repositories() -> list[dict]:
    """Every repository of /etc/yum.repos.d, with its settings and variables expanded."""
    import configparser
    release = os_release()
    found = []
    for path in sorted(Path("/etc/yum.repos.d").glob("*.repo")):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read_string(path.read_text())
        for section in parser.sections():
            repo = {k: v.replace("$basearch", "x86_64").replace("$releasever", release.get("VERSION_ID", ""))
                    for k, v in parser[section].items()}
            repo["id"], repo["file"] = section, str(path)
            found.append(repo)
    return found


def truthy(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def dnf_fail(message: str, rc: int = 1) -> int:
    print(f"standin dnf: {message}", file=sys.stderr)
    return rc


def dnf() -> int:
    """dnf4 or dnf5, as the rehearsed OS has it: options, unreachable repositories, excludes, what repos offer."""
    import fnmatch
    import re
    flavour = dnf_flavour()
    options, words = [], []
    for arg in ARGS:
        (options if arg.startswith("-") else words).append(arg)
    disable_excludes = []
    for opt in options:
        name, _, value = opt.partition("=")
        if name not in DNF_OPTIONS[flavour]:
            # dnf5: "Unknown argument"; dnf4 (argparse): "unrecognized arguments"
            return dnf_fail(f"{flavour}: unknown option {opt}", 2)
        if name == "--disableexcludes" or (name == "--setopt" and value.startswith("disable_excludes=")):
            disable_excludes += re.split(r"[ ,]+", value.split("=", 1)[-1] if name == "--setopt" else value)
    if not words or words[0] not in DNF_COMMANDS:
        return dnf_fail(f"{flavour}: unknown command {words[:1]}", 2)
    command, packages = words[0], words[1:]
    enabled = [r for r in repositories() if truthy(r.get("enabled"), True)]
    # skip_if_unavailable defaults to False in dnf4 (doc/conf_ref.rst, since 4.2.7) and dnf5 (dnf5.conf.5):
    # one enabled repository that cannot be reached fails the whole command
    for repo in enabled:
        url = (repo.get("baseurl") or repo.get("mirrorlist") or repo.get("metalink") or "").split()
        if not url or not reachable(url[0]):
            if truthy(repo.get("skip_if_unavailable"), False):
                continue
            return dnf_fail(f"Error: Failed to download metadata for repo '{repo['id']}' ({repo['file']}): "
                            f"Cannot download repomd.xml: {url[0] if url else 'no baseurl'} is unreachable")
    if command != "install":
        if command == "remove":
            for package in packages:
                if not installed(package):
                    return dnf_fail(f"No match for argument: {package}")
                Path(f"/var/lib/standin-rpm/{package}").unlink()
        return 0

    def offering(name: str) -> dict | None:
        for repo in enabled:
            offers = next((o for pattern, o in REPO_OFFERS if re.search(pattern, repo["id"])), set())
            excluded = any(fnmatch.fnmatch(name, g) for g in re.split(r"[ ,]+", repo.get("exclude", "")) if g)
            if excluded and not {"all", "*", repo["id"]} & set(disable_excludes):
                continue
            if name in offers:
                return repo
        return None

    wanted = []
    for spec in packages:
        name, version = re.match(r"^(.+?)(?:-(\d[^-]*))?$", spec).groups()
        name = name.rstrip("-")
        repo = offering(name)
        if repo is None:
            return dnf_fail(f"No match for argument: {spec}\nError: Unable to find a match: {spec}")
        wanted.append((name, version or "", repo))
        for dependency, until in PACKAGE_REQUIRES_UNTIL.get(name, {}).items():
            minor = tuple(int(p) for p in version.split(".")[:2]) if version else (0, 0)
            if minor <= tuple(int(p) for p in until.split(".")) and not installed(dependency):
                dep_repo = offering(dependency)
                if dep_repo is None:
                    return dnf_fail(f"Error: Problem: nothing provides {dependency} needed by {spec}")
                wanted.append((dependency, "", dep_repo))
    for name, version, repo in wanted:
        for key in repo.get("gpgkey", "").split() if truthy(repo.get("gpgcheck"), True) else ():
            if not reachable(key):
                return dnf_fail(f"Error: Failed to retrieve GPG key for repo '{repo['id']}': {key} is unreachable")
    for name, version, repo in wanted:
        write(f"/var/lib/standin-rpm/{name}", f"{version}\t{repo['id']}\n")
        for path, text in PACKAGE_FILES.get(name, {}).items():
            if not Path(path).exists():
                write(path, text)
    return 0


ACTIVE_UNITS = Path("/run/standin-systemd/active")


def systemctl() -> int:
    """enable/disable (the wants links), start (the unit becomes active; firewalld loads its permanent rules),
    is-active (0 when active, else 3, as systemctl(1) documents for inactive units)."""
    verb, units = ARGS[0], [a for a in ARGS[1:] if not a.startswith("-")]
    for unit in units:
        if verb == "enable":
            write(f"/etc/systemd/system/multi-user.target.wants/{unit}", "enabled\n")
        elif verb == "disable":
            Path(f"/etc/systemd/system/multi-user.target.wants/{unit}").unlink(missing_ok=True)
        elif verb == "start":
            write(str(ACTIVE_UNITS / unit), "active\n")
            if unit == "firewalld.service":
                import json
                permanent = Path(FIREWALL_STATE)
                rules = json.loads(permanent.read_text()) if permanent.exists() else firewall_initial(firewalld_version())
                write(FIREWALL_RUNTIME, json.dumps(rules, indent=1) + "\n")
        elif verb == "is-active":
            return 0 if (ACTIVE_UNITS / unit).exists() else 3
    return 0


# kubeadm's refusals, per version; each is a row of docs/upstream-contracts.md ("kubeadm")
KUBEADM_FLAGS = {  # the flags of each subcommand the bootstrap calls (all exist in 1.18 to 1.37)
    "init": {"--config", "--skip-token-print", "--ignore-preflight-errors", "--v"},
    "join": {"--config", "--ignore-preflight-errors", "--v"},
    "reset": {"-f", "--force", "--cri-socket", "--v"},
    "config images pull": {"--config", "--kubernetes-version", "--image-repository", "--cri-socket",
                           "--feature-gates", "--v"},
}
# pkiutil.TryLoadPrivatePublicKeyFromDisk took RSA only until kubernetes#112508 (1.26) and its backports
# (#112537, #112536, #112535, #112534): the first patch of each minor that reads an ECDSA sa.key
KUBEADM_ECDSA_SA_KEY_FROM = {(1, 22): 15, (1, 23): 12, (1, 24): 6, (1, 25): 2}


def kubeadm_version() -> tuple[int, int, int] | None:
    """The version of the kubeadm package dnf installed (`dnf install kubeadm-1.24.4`), None if there is none."""
    record = Path("/var/lib/standin-rpm/kubeadm")
    if not record.exists():
        return None
    parts = record.read_text().split("\t")[0].split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1]), int(parts[2])
    return None


def kubeadm_flags_refused(subcommand: str, args: list[str]) -> str | None:
    allowed = KUBEADM_FLAGS[subcommand]
    for arg in args:
        if arg.startswith("-") and arg.split("=", 1)[0] not in allowed:
            return f"unknown flag: {arg.split('=', 1)[0]}"
    return None


def kubeadm_kinds(path: str | None) -> list[str]:
    if path is None:
        return []
    import re
    return re.findall(r"(?m)^kind: *(\S+)", Path(path).read_text())


def kubeadm_accepts_ecdsa_sa_key(version: tuple[int, int, int]) -> bool:
    if version[:2] >= (1, 26):
        return True
    first = KUBEADM_ECDSA_SA_KEY_FROM.get(version[:2])
    return first is not None and version[2] >= first


def private_key_type(path: Path) -> str:
    """RSA or ECDSA, from the PEM header or, for PKCS#8, the algorithm's OID."""
    import base64
    text = path.read_text()
    if "BEGIN RSA PRIVATE KEY" in text:
        return "RSA"
    if "BEGIN EC PRIVATE KEY" in text:
        return "ECDSA"
    body = "".join(l for l in text.splitlines() if l and not l.startswith("-----"))
    der = base64.b64decode(body)
    if bytes.fromhex("2a864886f70d010101") in der:
        return "RSA"
    return "ECDSA" if bytes.fromhex("2a8648ce3d0201") in der else "unknown"


def kubeadm_print_join_line(token: str, skip_token_print: bool) -> None:
    """What init prints when it is done (cmd/kubeadm/app/cmd/init.go, phases/init/bootstraptoken.go)."""
    shown = "<value withheld>" if skip_token_print else token
    if not skip_token_print:
        print(f"[bootstrap-token] Using token: {token}")
    print("Then you can join any number of worker nodes by running the following on each as root:\n")
    print(f"kubeadm join 192.0.2.1:6443 --token {shown} \\\n\t--discovery-token-ca-cert-hash sha256:0000")


# the address kubeadm finds on the default route when the config names none (a DHCP lease, say)
KUBEADM_DETECTED_ADDRESS = "198.51.100.7"


def bypasses_proxy(host: str, no_proxy: str) -> bool:
    """Whether Go's http.ProxyFromEnvironment goes direct to host: exact names, domain suffixes, CIDRs, *."""
    import ipaddress
    for entry in (e.strip() for e in no_proxy.split(",") if e.strip()):
        if entry == "*" or entry == host or host.endswith("." + entry.lstrip(".")):
            return True
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def kubeadm_proxy_warnings(hosts: list[str]) -> None:
    """Preflight's HTTPProxy check prints the proxy URL as Go formats it: credentials included."""
    proxy = os.environ.get("https_proxy") or os.environ.get("HTTPS_PROXY")
    no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    for host in hosts:
        if proxy and not bypasses_proxy(host, no_proxy):
            print(f'\t[WARNING HTTPProxy]: Connection to "https://{host}" uses proxy "{proxy}". '
                  "If that is not intended, adjust your proxy settings")


def kubeadm_advertise_address(config: str) -> str:
    import re
    found = re.search(r"(?m)^ *advertiseAddress: *['\"]?([0-9.]+)", config)
    return found.group(1) if found else KUBEADM_DETECTED_ADDRESS


def kubeadm() -> int:
    version = kubeadm_version()  # main() already refused the call if the package is not installed
    if version is None:
        print("standin kubeadm: the installed kubeadm package has no version (dnf install kubeadm-X.Y.Z)",
              file=sys.stderr)
        return 1
    subcommand = "config images pull" if ARGS[:3] == ["config", "images", "pull"] else ARGS[0]
    if subcommand not in KUBEADM_FLAGS:
        return 0
    rest = ARGS[3:] if subcommand == "config images pull" else ARGS[1:]
    refused = kubeadm_flags_refused(subcommand, rest)
    if refused:
        print(f"standin kubeadm: {refused}", file=sys.stderr)
        return 1
    kinds = kubeadm_kinds(option("--config"))
    if subcommand in ("init", "config images pull") and option("--config") is not None \
            and not {"InitConfiguration", "ClusterConfiguration"} & set(kinds):
        # the config file is loaded as an init configuration (cmd/kubeadm/app/util/config/initconfiguration.go)
        print("standin kubeadm: no InitConfiguration or ClusterConfiguration kind was found in the YAML file",
              file=sys.stderr)
        return 1
    if subcommand == "join" and "JoinConfiguration" not in kinds:
        print("standin kubeadm: no JoinConfiguration found in the supplied config", file=sys.stderr)
        return 1
    if subcommand in ("init", "join", "config images pull") and version[:2] <= (1, 31) and crictl_refusal():
        # kubeadm up to 1.31 reaches the runtime through crictl (its preflight and image pulls)
        print(f"standin kubeadm: [ERROR CRI]: container runtime is not running: {crictl_refusal()}", file=sys.stderr)
        return 1
    if subcommand == "config images pull":
        import re
        config = Path(option("--config")).read_text() if option("--config") else ""
        found = re.search(r"(?m)^imageRepository: *['\"]?([^'\"\s]+)", config)
        repository = option("--image-repository") or (found.group(1) if found else "registry.k8s.io")
        image = f"{repository}/kube-apiserver"
        if not image_reachable(image):  # kubeadm pulls through the CRI: CRI-O's registry mirrors apply
            print(f"standin kubeadm: failed to pull image {image}: dial tcp: lookup {image.split('/')[0]}: "
                  f"no such host", file=sys.stderr)
            return 1
    if ARGS[0] == "init":
        config = Path(option("--config")).read_text()
        write(str(RECORD / "init-config.yaml"), config)
        if Path("/etc/kubernetes/manifests/kube-apiserver.yaml").exists():  # kubeadm's preflight checks
            print("standin kubeadm: [ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: "
                  "/etc/kubernetes/manifests/kube-apiserver.yaml already exists", file=sys.stderr)
            return 1
        if not Path("/etc/kubernetes/pki/ca.key").exists():
            print("standin kubeadm: no CA in /etc/kubernetes/pki; would have made a new one", file=sys.stderr)
            return 1
        kubeadm_proxy_warnings([kubeadm_advertise_address(config)])
        write("/etc/kubernetes/manifests/kube-apiserver.yaml", "kind: Pod\n", 0o600)
        crash_point()  # midway: the static pods exist, the kubeconfigs do not
        write("/etc/kubernetes/admin.conf", "kind: Config\n", 0o600)
        write("/etc/kubernetes/kubelet.conf", "kind: Config\n", 0o600)
        import re
        token = re.search(r"(?m)^ *(?:- )?token: *['\"]?([a-z0-9]{6}\.[a-z0-9]{16})", config)
        kubeadm_print_join_line(token.group(1) if token else "abcdef.0123456789abcdef", "--skip-token-print" in ARGS)
    elif ARGS[0] == "join":
        if Path("/etc/kubernetes/kubelet.conf").exists():
            print("standin kubeadm: [ERROR FileAvailable--etc-kubernetes-kubelet.conf]: "
                  "/etc/kubernetes/kubelet.conf already exists", file=sys.stderr)
            return 1
        config = Path(option("--config")).read_text()
        write(str(RECORD / "join-config.yaml"), config)
        import re
        endpoint = re.search(r"(?m)^ *apiServerEndpoint: *['\"]?([^:'\"\s]+)", config)
        hosts = [endpoint.group(1)] if endpoint else []
        kubeadm_proxy_warnings(hosts + ([kubeadm_advertise_address(config)] if "controlPlane" in config else []))
        if "controlPlane" in config:
            # without --certificate-key, kubeadm needs the shared CAs on disk to join as a control plane
            for shared in ("ca.key", "front-proxy-ca.key", "etcd/ca.key", "sa.key"):
                if not Path(f"/etc/kubernetes/pki/{shared}").exists():
                    print(f"standin kubeadm: /etc/kubernetes/pki/{shared} missing for a control-plane join", file=sys.stderr)
                    return 1
            sa_key = Path("/etc/kubernetes/pki/sa.key")
            if private_key_type(sa_key) != "RSA" and not kubeadm_accepts_ecdsa_sa_key(version):
                print(f"standin kubeadm: [preflight] the private key file {sa_key} isn't in RSA format", file=sys.stderr)
                return 1
            write("/etc/kubernetes/manifests/kube-apiserver.yaml", "kind: Pod\n", 0o600)
            write("/etc/kubernetes/admin.conf", "kind: Config\n", 0o600)
        write("/etc/kubernetes/kubelet.conf", "kind: Config\n", 0o600)
    elif ARGS[0] == "reset":
        import shutil
        for path in ("/etc/kubernetes/manifests", "/etc/kubernetes/pki"):
            shutil.rmtree(path, ignore_errors=True)
        for conf in Path("/etc/kubernetes").glob("*.conf"):
            conf.unlink()
    return 0


def image_registry(image: str) -> str:
    """The registry host of an image reference, as containers/image reads it (no dot or port: docker.io)."""
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first or first == "localhost") else "docker.io"


def registry_mirrors() -> list[tuple[str, str]]:
    """(prefix, mirror location) pairs of containers-registries.conf.d drop-ins, as CRI-O reads them."""
    import re
    pairs = []
    for conf in sorted(Path("/etc/containers/registries.conf.d").glob("*.conf")):
        for block in conf.read_text().split("[[registry]]")[1:]:
            prefix = re.search(r'(?m)^prefix = "([^"]+)"', block)
            for location in re.findall(r'(?ms)^\[\[registry\.mirror\]\]\s*location = "([^"]+)"', block):
                if prefix:
                    pairs.append((prefix.group(1), location))
    return pairs


def image_reachable(image: str) -> bool:
    """CRI-O tries a prefix's mirrors first, then the registry itself (containers-registries.conf(5))."""
    named = image if "/" in image and image_registry(image) != "docker.io" or image.startswith("docker.io/") \
        else f"docker.io/{image}"
    candidates = [location + named[len(prefix):] for prefix, location in registry_mirrors()
                  if named.startswith(prefix)] + [named]
    return any(reachable(f"https://{c.split('/', 1)[0]}/") for c in candidates)


def crictl_refusal() -> str | None:
    """crictl 1.26 and later speak only CRI v1 (cri-tools#1039, containerd#7818); CRI-O up to 1.20 serves only
    v1alpha2 (cri-o cmd/crio/main.go at v1.18.6, v1.19.6, v1.20.9; v1 from v1.21.0). An unpinned cri-tools is the
    newest its repositories offer, 1.26 or later."""
    import re
    crio, tools = Path("/var/lib/standin-rpm/cri-o"), Path("/var/lib/standin-rpm/cri-tools")
    if not crio.exists() or not tools.exists():
        return None
    minor = re.search(r"cri-o_(\d+)\.(\d+)", crio.read_text())
    if not minor or (int(minor.group(1)), int(minor.group(2))) >= (1, 21):
        return None
    version = tools.read_text().split("\t")[0]
    if version and tuple(int(x) for x in version.split(".")[:2]) < (1, 26):
        return None
    return ('validate service connection: validate CRI v1 runtime API for endpoint "unix:///var/run/crio/crio.sock": '
            "rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService")


def crictl() -> int:
    refusal = crictl_refusal()
    if refusal:
        print(f"E1127 {refusal}", file=sys.stderr)
        return 1
    if ARGS and "pull" in ARGS:
        image = ARGS[-1]
        if not image_reachable(image):
            print(f'E1127 pulling image "{image}": rpc error: code = Unknown desc = pinging container registry '
                  f'{image.split("/")[0]}: dial tcp: lookup {image.split("/")[0]}: no such host', file=sys.stderr)
            return 1
    return 0


def kubectl() -> int:
    if "get" in ARGS and "node" in ARGS:
        print("True", end="")
    return 0


# what every download returns (conftest pins the CNI manifests to its sha256, as data/checksums.yaml pins the real ones)
DOWNLOAD = "# stand-in CNI manifest\nkind: List\n"


def curl_config_url(path: str) -> str | None:
    """The `url` a curl -K file names (docs/cmdline-opts/config.md: `url = "..."`, quotes optional without
    blanks); None when the file is missing or names none."""
    import re
    config = Path(path)
    if not config.exists():
        return None
    found = re.search(r'(?m)^\s*-{0,2}url\s*[=: ]\s*"?([^"\s]+)"?\s*$', config.read_text())
    return found.group(1) if found else None


def curl() -> int:
    url = next((a for a in ARGS if a.startswith(("http://", "https://"))), "")
    if option("-K") is not None:
        url = curl_config_url(option("-K"))
        if url is None:  # curl: "Cannot read config from ..." or no URL to fetch
            print(f"curl: (2) no URL specified in {option('-K')}", file=sys.stderr)
            return 2
    if url and not reachable(url):  # curl -f: exit 6 (host not resolved) or 22 (HTTP error such as 404)
        print(f"curl: (22) The requested URL returned error: 404 or no answer: {url}", file=sys.stderr)
        return 22
    out = option("-o")
    # every download is the same stand-in bytes (the tar stand-in reads what an archive holds from its URL), so a
    # release's checksum file, as GitHub serves it beside the asset, matches
    if out and url.endswith(".sha256sum"):
        import hashlib
        write(out, f"{hashlib.sha256(DOWNLOAD.encode()).hexdigest()}  {url.rsplit('/', 1)[-1][:-len('.sha256sum')]}\n")
    elif out:
        write(out, DOWNLOAD)
    return 0


def downloaded_from(path: str) -> str:
    """The URL the last recorded `curl -o PATH` fetched (what the archive at PATH holds)."""
    url = ""
    for line in (RECORD / "calls").read_text().splitlines():
        call = line.split("\t")
        if call[0] == "curl" and path in call:
            url = call[-1]
    return url


CILIUM_STATE = Path("/var/lib/standin-cilium")


def tar() -> int:
    import re
    # the archives the bootstrap unpacks: a release tarball holding a CNI manifest (written to stdout with -O),
    # the cilium CLI (a cilium stand-in left where it was asked to go), or cilium's Helm chart
    member = next((a for a in ARGS if a.endswith((".yaml", ".yml"))), None)
    if member and not Path(option("-xzf") or "").exists():
        print(f"tar: {option('-xzf')}: Cannot open: No such file or directory", file=sys.stderr)
        return 2
    if member:
        if "-O" in ARGS or "--to-stdout" in ARGS:
            print(f"# stand-in CNI manifest ({member})\nkind: List")
        return 0
    archive = option("-xzf") or ""
    if not Path(archive).exists():
        print(f"tar: {archive}: Cannot open: No such file or directory", file=sys.stderr)
        return 2
    target = Path(option("-C") or ".")
    if ARGS[-1] == "cilium":  # the cilium CLI: leave a cilium stand-in where it was asked to go, and its release
        cli = target / "cilium"
        if not cli.exists():
            cli.parent.mkdir(parents=True, exist_ok=True)
            cli.symlink_to("/usr/local/bin/standin")
        release = re.search(r"/download/(v[0-9.]+)/", downloaded_from(archive))
        write(str(CILIUM_STATE / "cli-release"), release.group(1) if release else "unknown")
    else:  # a Helm chart tarball (helm package puts the chart under a folder named after it)
        version = re.search(r"cilium-([0-9][^/]*)\.tgz$", downloaded_from(archive))
        write(str(target / "cilium" / "Chart.yaml"), f"name: cilium\nversion: {version.group(1) if version else '0.0.0'}\n")
    return 0


# Final Cilium releases whose chart each cilium-cli release embeds: X.Y.0 to X.Y.N (tests/data/cilium_cli_charts.yaml
# lists them as read at each tag; test_cni_releases checks this table against it)
CILIUM_CLI_CHARTS = {"v0.18.9": {"1.18": 3}, "v0.19.7": {"1.18": 11, "1.19": 5}}
CILIUM_INSTALL_FLAGS = {"--version", "--chart-directory", "--repository", "--set", "--helm-set", "--values",
                        "--helm-values", "-f", "--namespace", "--wait", "--dry-run"}


def cilium() -> int:
    """cilium-cli's `install`: a chart from --chart-directory, the CLI's embedded copy, or a download to its cache.

    Refuses as the real one does (cilium-cli internal/helm/helm.go ResolveHelmChartVersion, ciliumCacheDir):
    a chart directory without Chart.yaml, and a download with neither $XDG_CACHE_HOME nor $HOME set.
    """
    installed = CILIUM_STATE / "installed"
    if ARGS[0] == "status":
        return 0 if installed.exists() else 1
    if ARGS[0] != "install":
        return 0
    unknown = [a.split("=")[0] for a in ARGS[1:] if a.startswith("-") and a.split("=")[0] not in CILIUM_INSTALL_FLAGS]
    if unknown:
        print(f"Error: unknown flag: {unknown[0]}", file=sys.stderr)
        return 1
    directory = option("--chart-directory")
    if directory:
        if not (Path(directory) / "Chart.yaml").is_file():
            print(f"Error: failed to load Helm chart directory {directory}: Chart.yaml file is missing", file=sys.stderr)
            return 1
    else:
        version = (option("--version") or "").lstrip("v")
        cli_file = CILIUM_STATE / "cli-release"
        embedded = CILIUM_CLI_CHARTS.get(cli_file.read_text() if cli_file.exists() else "", {})
        minor, _, patch = version.rpartition(".")
        own_repository = option("--repository") in (None, "https://helm.cilium.io")
        if not (own_repository and patch.isdigit() and int(patch) <= embedded.get(minor, -1)):
            cache = os.environ.get("XDG_CACHE_HOME") or (os.environ["HOME"] + "/.cache" if os.environ.get("HOME") else "")
            if not cache:
                print("Error: neither $XDG_CACHE_HOME nor $HOME are defined", file=sys.stderr)
                return 1
            # the stand-in network answers every host, so the download from the Helm repository succeeds
            write(f"{cache}/cilium-cli/cilium-{version}.tgz", "stand-in chart\n")
    write(str(installed), " ".join(ARGS) + "\n")
    return 0


def timedatectl() -> int:
    # `show --property=NTPSynchronized --value` prints yes or no; a fault stands for no NTP at all
    if ARGS[:1] == ["show"] and "NTPSynchronized" in " ".join(ARGS):
        print("yes")
    return 0


def getenforce() -> int:
    """The kernel's SELinux mode: Enforcing unless the test says otherwise in /opt/record/selinux."""
    mode = RECORD / "selinux"
    print(mode.read_text().strip() if mode.exists() else "Enforcing")
    return 0


# firewalld of each OS release once updated (docs/upstream-contracts.md, firewalld): EL8.4+ 0.9.x,
# EL9 1.x, EL10 and Fedora 2.x. Without /etc/os-release the sandbox is EL9.
FIREWALLD_BY_EL_MAJOR = {"8": (0, 9), "9": (1, 3), "10": (2, 2)}
FIREWALLD_FEDORA = (2, 3)
# firewall-offline-cmd's options (src/firewall-offline-cmd.in at v0.8.2, v0.9.3, v1.0.0, v2.2.0), the ones
# the stand-in models; policies and intra-zone forwarding arrived in 0.9.0
FIREWALL_OPTIONS = {"--zone", "--set-default-zone", "--add-port", "--add-protocol", "--add-source", "--add-interface"}
FIREWALL_OPTIONS_SINCE = {"--add-forward": (0, 9), "--new-policy": (0, 9), "--policy": (0, 9)}
FIREWALL_STATE = "/var/lib/standin-firewalld/state.json"


def firewalld_version() -> tuple[int, int]:
    fields = os_release()
    if fields.get("ID") == "fedora":
        return FIREWALLD_FEDORA
    return FIREWALLD_BY_EL_MAJOR[fields.get("VERSION_ID", "9").split(".")[0]]


def firewall_initial(version: tuple[int, int]) -> dict:
    # the shipped zones carry <forward/> (intra-zone forwarding) from 1.0.0 on (commit 46d91419)
    forward = version >= (1, 0)
    zone = lambda target: {"target": target, "interfaces": [], "sources": [], "ports": [], "protocols": [],
                           "forward": forward}
    return {"default": "public", "zones": {"public": zone("default"), "trusted": zone("ACCEPT"),
                                           "drop": zone("DROP"), "block": zone("%%REJECT%%")}}


def firewall_apply(state: dict, args: list[str], version: tuple[int, int]) -> str | None:
    """Apply one firewall-offline-cmd call to the zones; the error the real one stops with, or None."""
    import ipaddress
    pairs = [(a.split("=", 1) + [""])[:2] if a.startswith("--") else ["", a] for a in args]
    options = pairs
    for flag, _ in options:
        since = FIREWALL_OPTIONS_SINCE.get(flag)
        if since and version < since or not since and flag not in FIREWALL_OPTIONS:
            return f"usage: see firewall-offline-cmd -h\nfirewall-offline-cmd: error: unrecognized arguments: {flag}"
        if since:
            return f"standin: {flag} exists in firewalld {version} but the stand-in does not model it"
    zone_name = next((v for f, v in options if f == "--zone"), state["default"])
    if zone_name not in state["zones"]:
        return f"Error: INVALID_ZONE: {zone_name}"
    zone = state["zones"][zone_name]
    for flag, value in options:
        if flag == "--set-default-zone":
            if value not in state["zones"]:
                return f"Error: INVALID_ZONE: {value}"
            state["default"] = value
        elif flag == "--add-port":
            if not re.fullmatch(r"[0-9]{1,5}(-[0-9]{1,5})?/(tcp|udp|sctp|dccp)", value):
                return f"Error: INVALID_PORT: {value}"
            _add(zone["ports"], value)
        elif flag == "--add-protocol":
            _add(zone["protocols"], value)
        elif flag == "--add-source":
            try:
                ipaddress.ip_network(value)
            except ValueError:
                return f"Error: INVALID_ADDR: {value}"
            _add(zone["sources"], value)
        elif flag == "--add-interface":
            # functions.checkInterface: at most 16 characters, none of ' ', '/', '!', '*' ('+' ends a prefix)
            if not value or len(value) > 16 or any(c in value for c in " /!*"):
                return f"Error: INVALID_INTERFACE: {value}"
            owner = next((n for n, z in state["zones"].items() if value in z["interfaces"] and n != zone_name), None)
            if owner:
                return f"Error: ZONE_CONFLICT: '{value}' already bound to '{owner}'"
            _add(zone["interfaces"], value)
    return None


def _add(entries: list, value: str) -> None:
    """Adding what is there already is a warning (ALREADY_ENABLED) with exit status 0, not a second entry."""
    if value in entries:
        print(f"Warning: ALREADY_ENABLED: {value}", file=sys.stderr)
    else:
        entries.append(value)


def firewall_offline_cmd() -> int:
    import json
    version = firewalld_version()
    path = Path(FIREWALL_STATE)
    state = json.loads(path.read_text()) if path.exists() else firewall_initial(version)
    error = firewall_apply(state, ARGS, version)
    if error:
        print(error, file=sys.stderr)
        return 2 if "unrecognized" in error else 1
    write(FIREWALL_STATE, json.dumps(state, indent=1) + "\n")
    return 0


def _matches(interface_spec: str, name: str) -> bool:
    return name.startswith(interface_spec[:-1]) if interface_spec.endswith("+") else name == interface_spec


def _zone_of(state: dict, address: str, interface: str) -> str:
    """nftables filter_FORWARD_{IN,OUT}_ZONES: a zone's sources first, then its interfaces, else the default."""
    import ipaddress
    for name, zone in state["zones"].items():
        if any(ipaddress.ip_address(address) in ipaddress.ip_network(s) for s in zone["sources"]):
            return name
    for name, zone in state["zones"].items():
        if any(_matches(i, interface) for i in zone["interfaces"]):
            return name
    return state["default"]


# a running firewalld's rules (the runtime): taken from the permanent configuration when it starts or reloads.
# firewall-offline-cmd edits only the permanent files and "should be used only if the firewalld service is not
# running" (firewall-offline-cmd(1), doc/xml/firewall-offline-cmd.xml at v1.3.0): its changes reach a running
# firewalld at the next reload. The sandbox has firewalld running when this file exists (a cloud image).
FIREWALL_RUNTIME = "/run/standin-firewalld/runtime.json"
# firewall-cmd (src/firewall-cmd.in at v0.9.3, v1.3.0): without a daemon every call prints "FirewallD is not
# running" (`--state`: "not running") and exits NOT_RUNNING, 252 (errors.py); stand-alone options such as
# --state, --reload and --set-default-zone cannot be combined with --permanent or --zone (exit 2)
FIREWALL_CMD_STANDALONE = ("--state", "--reload", "--set-default-zone")


def firewall_cmd() -> int:
    import json
    runtime = Path(FIREWALL_RUNTIME)
    if not runtime.exists():
        print("not running" if "--state" in ARGS else "FirewallD is not running", file=sys.stderr)
        return 252
    standalone = [a for a in ARGS if a.split("=", 1)[0] in FIREWALL_CMD_STANDALONE]
    if standalone and len(ARGS) > 1:
        print("usage: see firewall-cmd man page\nCan't use stand-alone options with other options.", file=sys.stderr)
        return 2
    version = firewalld_version()
    permanent_path = Path(FIREWALL_STATE)
    permanent = json.loads(permanent_path.read_text()) if permanent_path.exists() else firewall_initial(version)
    if ARGS == ["--state"]:
        print("running")
        return 0
    if ARGS == ["--reload"]:
        write(FIREWALL_RUNTIME, json.dumps(permanent, indent=1) + "\n")
        print("success")
        return 0
    targets = []  # --permanent: the files only; --set-default-zone: both; anything else: the runtime only
    if "--permanent" in ARGS or standalone:
        targets.append((permanent_path, permanent))
    if "--permanent" not in ARGS:
        targets.append((runtime, json.loads(runtime.read_text())))
    for path, state in targets:
        error = firewall_apply(state, [a for a in ARGS if a != "--permanent"], version)
        if error:
            print(error, file=sys.stderr)
            return 2 if "unrecognized" in error else 1
        write(str(path), json.dumps(state, indent=1) + "\n")
    print("success")
    return 0


def firewall_forwards(root: Path, saddr: str, iif: str, daddr: str, oif: str) -> bool:
    """Does the firewalld of this sandbox's rules let a new forwarded packet through? (src/firewall/core/
    nftables.py: the ingress zone's target ACCEPT accepts, 0.8.2+; intra-zone forwarding accepts when the egress
    interface or destination is bound to that same zone explicitly, 0.9+; the default zone's catch-all
    interface gets no forward rule, fw_zone.py v1.0.0 `_interface`; anything else is rejected.)
    A running firewalld judges by its runtime rules; otherwise the permanent ones load at the next boot."""
    import json
    runtime = root / FIREWALL_RUNTIME.lstrip("/")
    state = json.loads((runtime if runtime.exists() else root / FIREWALL_STATE.lstrip("/")).read_text())
    ingress = _zone_of(state, saddr, iif)
    zone = state["zones"][ingress]
    if zone["target"] == "ACCEPT":
        return True
    import ipaddress
    bound = any(_matches(i, oif) for i in zone["interfaces"]) or any(
        ipaddress.ip_address(daddr) in ipaddress.ip_network(s) for s in zone["sources"])
    return zone["forward"] and bound


# the interface a VM of EL9 and later names predictably (not eth0)
INTERFACE = "enp1s0"


def ip_staged() -> bool:
    """The queries of the bootstrap: the route to an address, the default route, its interface's addresses."""
    return (ARGS[:3] == ["-o", "route", "get"] or ARGS == ["-4", "route", "show", "default"]
            or ARGS[:5] == ["-4", "-o", "addr", "show", "dev"])


def ip() -> int:
    """iproute2's output, in its own format, on a VM whose one interface reaches the address's subnet; only the
    queries the bootstrap makes (anything else would need a closer model, so it fails loudly)."""
    if ARGS[:3] == ["-o", "route", "get"]:
        print(f"{ARGS[3]} dev {INTERFACE} src 192.168.122.11 uid 0 \\    cache ")
    elif ARGS == ["-4", "route", "show", "default"]:
        print(f"default via 192.168.122.1 dev {INTERFACE} proto static metric 100 ")
    elif ARGS == ["-4", "-o", "addr", "show", "dev", INTERFACE, "scope", "global"]:
        print(f"2: {INTERFACE}    inet 192.168.122.11/24 brd 192.168.122.255 scope global noprefixroute {INTERFACE}"
              "\\       valid_lft forever preferred_lft forever")
    else:
        print(f"standin ip: no model for `ip {' '.join(ARGS)}`", file=sys.stderr)
        return 1
    return 0


# selinux-policy keepalived.fc (v38.1, v40.13, main): the only path whose scripts keepalived runs unconfined
KEEPALIVED_UNCONFINED_DIR = "/usr/libexec/keepalived"
RELABELLED = "/var/lib/standin-selinux/relabelled"


def restorecon() -> int:
    """Record what was relabelled: a file written by %post or write_files keeps its directory's type until then."""
    Path(RELABELLED).parent.mkdir(parents=True, exist_ok=True)
    with open(RELABELLED, "a") as f:
        f.writelines(a.rstrip("/") + "\n" for a in ARGS if not a.startswith("-"))
    return 0


def keepalived_script_domain(root: Path, script: str) -> str:
    """The SELinux domain keepalived_t runs a vrrp_script in (keepalived.te): unconfined only for files
    labelled keepalived_unconfined_script_exec_t, i.e. under /usr/libexec/keepalived and relabelled."""
    record = root / RELABELLED.lstrip("/")
    relabelled = record.read_text().split() if record.exists() else []
    labelled = script.startswith(KEEPALIVED_UNCONFINED_DIR + "/") and any(
        script == r or script.startswith(r + "/") for r in relabelled)
    return "keepalived_unconfined_script_t" if labelled else "keepalived_t"


def keepalived_may_connect(domain: str, port: int, connect_any: bool = False) -> bool:
    """keepalived.te: keepalived_t connects to a few named port types (http 80/443/8443..., smtp, snmp, ...),
    to every port only with the keepalived_connect_any boolean; 6443 is unreserved_port_t."""
    if domain == "keepalived_unconfined_script_t" or connect_any:
        return True
    return port in {80, 81, 443, 488, 8008, 8009, 8443, 9000}


def subscription_manager() -> int:
    """Registration makes Red Hat's CDN repositories appear in redhat.repo; nothing else is modelled."""
    identity = Path("/etc/pki/consumer/cert.pem")
    if ARGS[0] == "identity":
        return 0 if identity.exists() else 1
    if ARGS[0] == "register":
        if not (option("--org") and option("--activationkey")):
            print("standin subscription-manager: --org and --activationkey are required", file=sys.stderr)
            return 64
        write(str(identity), "stand-in consumer certificate\n", 0o600)
        major = os_release().get("VERSION_ID", "9").split(".")[0]
        write("/etc/yum.repos.d/redhat.repo", "".join(
            f"[rhel-{major}-for-x86_64-{r}-rpms]\nname=RHEL {major} {r}\n"
            f"baseurl=https://cdn.redhat.com/content/dist/rhel{major}/$releasever/x86_64/{r}/os\nenabled=1\n"
            f"gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release\n\n"
            for r in ("baseos", "appstream")))
    return 0


HANDLERS = {"dnf": dnf, "systemctl": systemctl, "kubeadm": kubeadm, "kubectl": kubectl, "curl": curl,
            "getenforce": getenforce, "tar": tar, "cilium": cilium, "timedatectl": timedatectl,
            "ip": ip, "restorecon": restorecon, "firewall-offline-cmd": firewall_offline_cmd, "firewall-cmd": firewall_cmd,
            "subscription-manager": subscription_manager, "crictl": crictl}


def passthrough() -> int:
    import subprocess
    global CRASH
    CRASH = injected_fault() == "kill"
    rc = subprocess.run([f"/usr/bin/{NAME}", *ARGS]).returncode
    crash_point()
    return rc


def main() -> int:
    global CRASH
    if NAME in PASSTHROUGH or (NAME == "ip" and not ip_staged()):
        return passthrough()  # cloud-init reads addresses with the real ip; only the bootstrap's queries are staged
    package = COMMAND_PACKAGE.get(NAME)
    if package and not installed(package):  # what bash says when no package has put the command on PATH
        with open(RECORD / "not-found", "a", encoding="utf-8") as log:
            log.write("\t".join([NAME, *ARGS]) + "\n")
        print(f"bash: {NAME}: command not found (package {package} is not installed)", file=sys.stderr)
        return 127
    record()
    fault = injected_fault()
    if fault == "fail":
        print(f"standin {NAME}: injected failure", file=sys.stderr)
        return 1
    CRASH = fault == "kill"
    rc = HANDLERS.get(NAME, lambda: 0)()
    crash_point()
    return rc


if __name__ == "__main__":
    sys.exit(main())
