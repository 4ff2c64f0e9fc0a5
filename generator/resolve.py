"""Profile + defaults + release knowledge + cluster secrets -> a frozen Node."""

import ipaddress
from pathlib import Path

from generator import releases, secrets
from generator.load import Document
from generator.model import (Admin, CloudInitExtras, CniSpec, ExtraFile, HostEntry, Join, KubeSpec, Network, Node, Ntp,
                             OsSpec, Pki, RepoFile, YumRepo)

DEFAULT_API_PORT = 6443
CRIO_SOCKET = "/var/run/crio/crio.sock"
KUBE_PACKAGES = ("kubelet", "kubeadm", "kubectl")
CRIO_REPO_PATH = "/etc/yum.repos.d/cri-o.repo"
KUBE_REPO_PATH = "/etc/yum.repos.d/kubernetes.repo"
COPR_REPO_PATH = "/etc/yum.repos.d/container-selinux.repo"
REPO_PATHS = (CRIO_REPO_PATH, KUBE_REPO_PATH, COPR_REPO_PATH)


def _section(doc: Document, key: str) -> dict:
    return doc.data.get(key) or {}


def _fill(template: str, minor: str, os_entry: dict) -> str:
    return template.replace("{minor}", minor).replace("{os_path}", os_entry.get("kubic_path", ""))


def _repo_files(kube_minor: str, release: dict, os_entry: dict) -> tuple[RepoFile, ...]:
    kube = releases.repo(release["kube_repo"])
    kube_repo = YumRepo(
        id="kubernetes", name=f"Kubernetes {kube_minor}",
        baseurl=_fill(kube["baseurl"], kube_minor, os_entry),
        gpgkey=tuple(_fill(k, kube_minor, os_entry) for k in kube["gpgkey"]),
        exclude=KUBE_PACKAGES + ("cri-tools", "kubernetes-cni"),
        repo_gpgcheck=kube.get("repo_gpgcheck", False),
    )
    crio = releases.repo(release["crio_repo"])
    if "libcontainers" in crio:  # the Kubic era: a libcontainers repo plus one per CRI-O minor
        crio_repos = (
            YumRepo(id="devel_kubic_libcontainers_stable", name="Stable releases of libcontainers (Kubic)",
                    baseurl=_fill(crio["libcontainers"]["baseurl"], kube_minor, os_entry),
                    gpgkey=tuple(_fill(k, kube_minor, os_entry) for k in crio["libcontainers"]["gpgkey"])),
            YumRepo(id=f"devel_kubic_libcontainers_stable_cri-o_{kube_minor}", name=f"CRI-O {kube_minor} (Kubic)",
                    baseurl=_fill(crio["crio"]["baseurl"], kube_minor, os_entry),
                    gpgkey=tuple(_fill(k, kube_minor, os_entry) for k in crio["crio"]["gpgkey"])),
        )
    else:
        crio_repos = (YumRepo(id="cri-o", name=f"CRI-O {kube_minor}", baseurl=_fill(crio["baseurl"], kube_minor, os_entry),
                              gpgkey=tuple(_fill(k, kube_minor, os_entry) for k in crio["gpgkey"])),)
    files = [RepoFile(CRIO_REPO_PATH, crio_repos), RepoFile(KUBE_REPO_PATH, (kube_repo,))]
    copr = os_entry.get("container_selinux_repo")
    if copr:  # the recipe's `dnf copr enable rhcontainerbot/container-selinux`, as a repo file
        files.insert(0, RepoFile(COPR_REPO_PATH, (
            YumRepo(id="copr_rhcontainerbot_container-selinux", name="Copr rhcontainerbot/container-selinux",
                    baseurl=copr["baseurl"], gpgkey=tuple(copr.get("gpgkey", ()))),)))
    return tuple(files)


def _os_spec(doc: Document, entry: dict, key: str) -> OsSpec:
    o = _section(doc, "os")
    return OsSpec(
        key=key, name=entry["name"], distro=o["distro"], major=int(o["version"]),
        ks_handler=entry["ks_handler"],
        install_url=o.get("install_url") or entry.get("install_url", ""),
        appstream_url="" if o.get("install_url") else entry.get("appstream_url", ""),
        update=o.get("update", True), selinux=o.get("selinux", "permissive"), firewall=o.get("firewall", "ports"),
        timezone=o.get("timezone", "UTC"), language=o.get("language", "en_US.UTF-8"), keyboard=o.get("keyboard", "us"),
        disk=o.get("disk", ""), zram_swap=o["distro"] == "fedora",
    )


def _endpoint(value: str) -> tuple[str, int]:
    host, _, port = value.partition(":")
    return host, int(port) if port else DEFAULT_API_PORT


def _cloud_init(doc: Document) -> CloudInitExtras:
    ci = _section(doc, "cloud_init")
    ntp = ci.get("ntp")
    return CloudInitExtras(
        packages=tuple(ci.get("packages", ())),
        bootcmd=tuple(c if isinstance(c, str) else tuple(c) for c in ci.get("bootcmd", ())),
        ntp=Ntp(tuple(ntp.get("servers", ())), tuple(ntp.get("pools", ()))) if ntp else None,
        write_files=tuple(ExtraFile(f["path"], f.get("content", ""), f.get("permissions", "0644"),
                                    f.get("owner", "root:root"), f.get("defer", False))
                          for f in ci.get("write_files", ())),
    )


def resolve(doc: Document, secrets_dir: Path | None = None, create_secrets: bool = True) -> Node:
    """The node a checked profile describes; create_secrets=False uses throwaway secrets if none exist yet."""
    data = doc.data
    o, k, c, net, cl = (_section(doc, s) for s in ("os", "kubernetes", "cni", "network", "cluster"))
    role = "control-plane" if data["role"] in ("control-plane", "master") else "worker"
    hostname = data["hostname"]
    first = cl.get("first_control_plane")
    action = "join" if role == "worker" else ("init" if first in (None, hostname) else "join-control-plane")
    cluster = cl.get("name", "kubernetes")

    minor = releases.minor_of(k["version"])
    release = releases.kube_release(minor)
    version = k["version"] if k["version"].count(".") == 2 else release["latest_patch"]
    key = releases.os_key(o["distro"], o["version"])
    os_entry = releases.os_releases()[key]

    plugin = c.get("plugin", "calico")
    cni_version = releases.minor_of(c["version"]) if c.get("version") else releases.default_cni_version(plugin, minor)
    cni_entry = releases.cni_plugin(plugin)
    cni = CniSpec(plugin=plugin, version=c.get("version") or cni_version,
                  manifest_url=c.get("manifest_url") or cni_entry["versions"][cni_version]["manifest"],
                  ports=tuple(cni_entry.get("ports", ())))
    pod_cidr = k.get("pod_cidr") or cni_entry.get("required_pod_cidr") or cni_entry.get("default_pod_cidr", "10.244.0.0/16")

    endpoint_host, endpoint_port = _endpoint(k["control_plane_endpoint"])
    address = str(ipaddress.IPv4Interface(net["address"]).ip) if net.get("address") else ""
    socket = release.get("cri_socket") or (f"unix://{CRIO_SOCKET}" if releases.minor_key(minor) >= (1, 24) else CRIO_SOCKET)
    bridge = release.get("crio_default_bridge_cni") or ()
    kube = KubeSpec(
        minor=minor, version=version, kubeadm_api=release["kubeadm_api"],
        container_runtime_flag=release["kubelet_container_runtime_flag"],
        endpoint_in_kubelet_config=release["kubelet_endpoint_in_config"],
        cri_socket=socket, image_repository=release["image_repository"], pause_image=release["pause_image"],
        control_plane_taints=tuple(release["control_plane_taints"]),
        crio_conmon_path_fix=release["crio_conmon_path_fix"],
        crio_bridge_cni_files=(bridge,) if isinstance(bridge, str) else tuple(bridge),
        pod_cidr=pod_cidr, service_cidr=k.get("service_cidr", "10.96.0.0/12"),
        endpoint_host=endpoint_host, endpoint_port=endpoint_port,
        advertise_address=k.get("advertise_address") or address,
        token_ttl=k.get("token_ttl", "24h"),
    )

    pki = None
    if cl.get("join"):
        join = Join(cl["join"]["token"], cl["join"]["ca_cert_hash"])
    else:
        s = secrets.load_or_create(cluster, secrets_dir) if create_secrets else secrets.load_or_throwaway(cluster, secrets_dir)
        join = Join(s.token, s.ca_cert_hash)
        if role == "control-plane":
            pki = Pki((
                ("ca.crt", s.ca.cert), ("ca.key", s.ca.key),
                ("front-proxy-ca.crt", s.front_proxy_ca.cert), ("front-proxy-ca.key", s.front_proxy_ca.key),
                ("etcd/ca.crt", s.etcd_ca.cert), ("etcd/ca.key", s.etcd_ca.key),
                ("sa.pub", s.service_account.cert), ("sa.key", s.service_account.key),
            ))

    ports = releases.data()["kubernetes_ports"]["control_plane" if role == "control-plane" else "worker"]
    users = _section(doc, "users")
    root, admin = users.get("root") or {}, users.get("admin")
    warnings = []
    for repo_key in (release["kube_repo"], release["crio_repo"]):
        if not releases.repo(repo_key).get("served", True):
            warnings.append(f"the {repo_key} package repository is no longer served upstream; "
                            f"mirror it and point the profile at the mirror")
    return Node(
        source=Path(doc.files[0]).name, role=role, action=action, hostname=hostname, cluster=cluster,
        os=_os_spec(doc, os_entry, key),
        network=Network(bootproto=net.get("bootproto", "dhcp"), device=net.get("device", "link"),
                        address=net.get("address", ""), gateway=net.get("gateway", ""),
                        nameservers=tuple(net.get("nameservers", ()))),
        kube=kube, cni=cni, join=join, pki=pki,
        repo_files=_repo_files(minor, release, os_entry),
        packages=tuple(os_entry.get("base_packages", ("iproute-tc", "container-selinux"))),
        crio_packages=("cri-o",),
        kube_packages=tuple(f"{p}-{version}" for p in KUBE_PACKAGES),
        firewall_ports=tuple(ports) + cni.ports,
        hosts=tuple(HostEntry(h["ip"], tuple(h["names"])) for h in data.get("hosts", ())),
        root_password_hash=root.get("password_hash", ""),
        root_locked=root.get("locked", not root.get("password_hash")),
        admin=Admin(admin["name"], admin.get("password_hash", ""), tuple(admin.get("ssh_keys", ()))) if admin else None,
        step_timeout=_section(doc, "bootstrap").get("step_timeout", 1800),
        retry_delay=_section(doc, "bootstrap").get("retry_delay", 5),
        warnings=tuple(warnings),
        cloud_init=_cloud_init(doc),
    )
