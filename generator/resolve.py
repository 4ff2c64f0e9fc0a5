"""Profile + defaults + release knowledge + cluster secrets -> a frozen Node."""

import dataclasses
from pathlib import Path

from generator import ipv4, releases, secrets
from generator.errors import Problem
from generator.load import Document, file_label
from generator import airgap, proxy, trust
from generator.defaults import pick
from generator.node_paths import COPR_REPO_PATH, CRIO_REPO_PATH, KUBE_REPO_PATH, OS_REPO_PATH
from generator.schema import profile_schema
from generator.model import (Admin, CloudInitExtras, CniSpec, ExtraFile, HostEntry, Join, KubeSpec, Network, Node, Ntp,
                             OsSpec, Pki, Proxy, Pxe, RegistryMirror, Registration, RepoFile, VirtualIp, YumRepo)

DEFAULT_API_PORT = 6443
KUBE_PACKAGES = ("kubelet", "kubeadm", "kubectl")


def _section(doc: Document, key: str) -> dict:
    return doc.data.get(key) or {}


def _fill(template: str, minor: str, os_entry: dict) -> str:
    return template.replace("{minor}", minor).replace("{os_path}", os_entry.get("kubic_path", ""))


def _repo(id: str, name: str, upstream: dict, mirrors: dict, mirror_key: str, minor: str, os_entry: dict,
          **extra) -> YumRepo:
    """A yum repository from upstream's entry, or from the profile's mirrors.<mirror_key>."""
    mirror = mirrors.get(mirror_key) or {}
    gpgkey = mirror.get("gpgkey") or [_fill(k, minor, os_entry) for k in upstream.get("gpgkey", ())]
    return YumRepo(id=id, name=name, baseurl=mirror.get("baseurl") or _fill(upstream["baseurl"], minor, os_entry),
                   gpgkey=tuple(gpgkey), mirror_key=mirror_key, **extra)


def _repo_files(kube_minor: str, release: dict, os_entry: dict, mirrors: dict) -> tuple[RepoFile, ...]:
    kube_repo = _repo("kubernetes", f"Kubernetes {kube_minor}", releases.repo(release["kube_repo"]),
                      mirrors, "kubernetes", kube_minor, os_entry,
                      exclude=KUBE_PACKAGES + ("cri-tools", "kubernetes-cni"))
    crio = releases.repo(release["crio_repo"])
    if "libcontainers" in crio:  # the Kubic era: a libcontainers repo plus one per CRI-O minor
        crio_repos = (
            # EL8's default container-tools module stream would hide their conmon, runc, containers-common and
            # container-selinux (libdnf setModuleExcludes): these repositories are not modular
            _repo("devel_kubic_libcontainers_stable", "Stable releases of libcontainers (Kubic)", crio["libcontainers"],
                  mirrors, "libcontainers", kube_minor, os_entry, module_hotfixes=True),
            _repo(f"devel_kubic_libcontainers_stable_cri-o_{kube_minor}", f"CRI-O {kube_minor} (Kubic)", crio["crio"],
                  mirrors, "crio", kube_minor, os_entry, module_hotfixes=True),
        )
    else:
        crio_repos = (_repo("cri-o", f"CRI-O {kube_minor}", crio, mirrors, "crio", kube_minor, os_entry),)
    files = [RepoFile(CRIO_REPO_PATH, crio_repos), RepoFile(KUBE_REPO_PATH, (kube_repo,))]
    copr = os_entry.get("container_selinux_repo")
    if copr:  # the recipe's `dnf copr enable rhcontainerbot/container-selinux`, as a repo file
        files.insert(0, RepoFile(COPR_REPO_PATH, (
            _repo("copr_rhcontainerbot_container-selinux", "Copr rhcontainerbot/container-selinux", copr,
                  mirrors, "container_selinux", kube_minor, os_entry, module_hotfixes=True),)))
    return tuple(files)


def _disk(name: str) -> str:
    """Anaconda reads `vda` and `/dev/vda` alike; /dev/disk/by-id and by-path names keep their full path."""
    return name.removeprefix("/dev/") if name.count("/") <= 2 else name


def _os_repo_file(doc: Document, os_entry: dict) -> RepoFile | None:
    """The installed system's own OS repositories, or None to keep the distro's stock repo files.

    The release data's set (CentOS 8: the vault) unless the profile names its own base tree; then
    os.install_url/os.appstream_url (the installer's source serves the installed system too), then
    mirrors.os.<name>, the key that replaces each (air gap warnings name it).
    """
    o, mirrors = _section(doc, "os"), _section(doc, "mirrors").get("os") or {}
    base = os_entry["install_url_repo"]
    own_tree = o.get("install_url") or base in mirrors
    defaults = {} if own_tree else os_entry.get("os_repos") or {}
    chosen = dict(defaults)
    if o.get("install_url"):
        chosen[base] = o["install_url"]
        if o.get("appstream_url"):
            chosen["appstream"] = o["appstream_url"]
    for name, mirror in mirrors.items():
        chosen[name] = mirror["baseurl"]
    if not chosen:
        return None
    default_key = os_entry.get("os_gpgkey")
    repos = []
    order = list(profile_schema()["properties"]["mirrors"]["properties"]["os"]["properties"])  # as the schema lists them
    for name in sorted(chosen, key=order.index):
        gpgkey = (mirrors.get(name) or {}).get("gpgkey") or ([default_key] if default_key and name != "epel" else [])
        repos.append(YumRepo(id=f"k8s-firstboot-{name}", name=f"{os_entry['name']} {name} (k8s-firstboot)",
                             baseurl=chosen[name], gpgkey=tuple(gpgkey), mirror_key=f"os.{name}"))
    return RepoFile(OS_REPO_PATH, tuple(repos))


def _os_spec(doc: Document, entry: dict, key: str, node_proxy: Proxy | None, own_repos: bool) -> tuple[OsSpec, list[str]]:
    """The OS settings, and the warnings about Anaconda's proxy for them."""
    o = _section(doc, "os")
    install_url = o.get("install_url") or entry.get("install_url", "")
    appstream_url = o.get("appstream_url") or ("" if o.get("install_url") else entry.get("appstream_url", ""))
    installer = proxy.installer_proxies(install_url, appstream_url, node_proxy)
    return OsSpec(
        key=key, name=entry["name"], distro=o["distro"], major=int(o["version"]),
        ks_handler=entry["ks_handler"],
        install_url=install_url, appstream_url=appstream_url,
        install_proxy=installer[0], appstream_proxy=installer[1],
        update=pick(o, "update", "os"), selinux=pick(o, "selinux", "os"), firewall=pick(o, "firewall", "os"),
        timezone=pick(o, "timezone", "os"), language=pick(o, "language", "os"), keyboard=pick(o, "keyboard", "os"),
        disk=_disk(o.get("disk", "")), zram_swap=entry.get("zram_swap", False),
        kickstart_eula=entry.get("kickstart_eula", False),
        own_repos=own_repos, registration=bool(o.get("registration")),
    ), installer[2]


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
        write_files=tuple(ExtraFile(f["path"], f["content"], *(pick(f, key, "cloud_init", "write_files")
                                                               for key in ("permissions", "owner", "defer")))
                          for f in ci.get("write_files", ())),
    )


def _cilium_chart_url(cni_entry: dict, cni_release: dict) -> str:
    """The chart to fetch when the pinned cilium CLI has no copy of this release's chart built in."""
    if cni_release.get("cli_embeds_chart", True):
        return ""
    return cni_entry.get("chart_url", "").replace("{release}", cni_release.get("release", ""))


def _pxe(doc: Document, os_spec: OsSpec) -> Pxe | None:
    p = _section(doc, "pxe")
    if not p:
        return None
    return Pxe(http_url=p.get("http_url", ""), proxy_subnet=p.get("proxy_subnet", ""),
               tftp_root=pick(p, "tftp_root", "pxe"), kernel=p.get("kernel", f"{os_spec.key}/vmlinuz"),
               initrd=p.get("initrd", f"{os_spec.key}/initrd.img"), kernel_args=tuple(p.get("kernel_args", ())))


def _role_and_action(data: dict, cl: dict) -> tuple[str, str]:
    """control-plane or worker, and whether it runs kubeadm init, joins as a control plane or as a worker."""
    role = "control-plane" if data["role"] in ("control-plane", "master") else "worker"
    first = cl.get("first_control_plane")
    action = "join" if role == "worker" else ("init" if first in (None, data["hostname"]) else "join-control-plane")
    return role, action


def _cni(c: dict, minor: str) -> tuple[CniSpec, dict]:
    """The CNI the node installs, and the plugin's release data."""
    plugin = pick(c, "plugin", "cni")
    cni_version = releases.minor_of(c["version"]) if c.get("version") else releases.default_cni_version(plugin, minor)
    cni_entry = releases.cni_plugin(plugin)
    cni_release = cni_entry["versions"][cni_version]  # rules._release_choices refused a minor no release of the plugin fits
    archived = not c.get("manifest_url") and "manifest_archive" in cni_release
    manifest_url = c.get("manifest_url") or cni_release.get("manifest", "")
    return CniSpec(plugin=plugin, version=c.get("version") or cni_version,
                   manifest_url=manifest_url,
                   manifest_sha256=c.get("manifest_sha256") or trust.pinned_sha256(manifest_url),
                   ports=tuple(cni_entry.get("ports", ())), install=cni_entry.get("install", "manifest"),
                   release=cni_release.get("release", ""), interfaces=tuple(cni_entry.get("interfaces", ())),
                   manifest_archive=cni_release["manifest_archive"] if archived else "",
                   manifest_member=cni_release["manifest_member"] if archived else "",
                   cli_url=c.get("cli_url") or cni_entry.get("cli_url", "").replace("{cli_version}", cni_entry.get("cli_version", "")),
                   chart_url=c.get("chart_url") or _cilium_chart_url(cni_entry, cni_release),
                   image_registries=tuple(cni_release.get("image_registries", ()))), cni_entry


def _kube(k: dict, net: dict, images: str, release: dict, cni_entry: dict) -> KubeSpec:
    """Kubernetes and CRI-O settings: the profile's, else the release data's for this minor."""
    minor = releases.minor_of(k["version"])
    endpoint_host, endpoint_port = _endpoint(k["control_plane_endpoint"])
    address = str(ipv4.interface(net["address"]).ip) if net.get("address") else ""
    return KubeSpec(
        minor=minor, version=k["version"] if k["version"].count(".") == 2 else release["latest_patch"],
        kubeadm_api=release["kubeadm_api"],
        container_runtime_flag=release["kubelet_container_runtime_flag"],
        endpoint_in_kubelet_config=release["kubelet_endpoint_in_config"],
        cri_socket=release["cri_socket"], image_repository=images or release["image_repository"],
        # kubeadm names the sandbox image <imageRepository>/pause:<PauseVersion> (images.GetPauseImage)
        pause_image=f"{images or release['image_repository']}/pause:{release['pause_version']}",
        control_plane_taints=tuple(release["control_plane_taints"]),
        crio_conmon_path_fix=release["crio_conmon_path_fix"],
        crio_bridge_cni_files=releases.crio_sample_bridge_files(),
        pod_cidr=k.get("pod_cidr") or cni_entry.get("required_pod_cidr") or cni_entry["default_pod_cidr"],
        service_cidr=pick(k, "service_cidr", "kubernetes"),
        endpoint_host=endpoint_host, endpoint_port=endpoint_port,
        advertise_address=k.get("advertise_address") or address,
        advertise_explicit="advertise_address" in k,
        token_ttl=pick(k, "token_ttl", "kubernetes"),
        dns_image_repository="" if images else release.get("coredns_image_repository", ""),
    )


def _join_and_pki(cl: dict, cluster: str, role: str, version: str, secrets_dir: Path | None,
                  create_secrets: bool) -> tuple[Join, Pki | None]:
    """How the node joins, and the CA files a control plane carries (from the cluster's secrets)."""
    if cl.get("join"):
        return Join(cl["join"]["token"], cl["join"]["ca_cert_hash"], from_profile=True), None
    s = secrets.load_or_create(cluster, secrets_dir) if create_secrets else secrets.load_or_throwaway(cluster, secrets_dir)
    join = Join(s.token, s.ca_cert_hash)
    if role != "control-plane":
        return join, None
    files = [("ca.crt", s.ca.cert), ("ca.key", s.ca.key)]
    if cl.get("first_control_plane") is not None or releases.kubeadm_takes_ecdsa_sa_key(version):
        # every control plane of a cluster must share every CA and the service-account key, so each gets
        # them all, a lone one too: control planes added later then join a cluster that uses these keys
        # (about 2.6 KB more user-data, 1 KB gzipped). Where kubeadm takes no ECDSA sa.key, a lone control
        # plane keeps only the cluster CA and kubeadm makes the rest; rules refuse more control planes there.
        files += [("front-proxy-ca.crt", s.front_proxy_ca.cert), ("front-proxy-ca.key", s.front_proxy_ca.key),
                  ("etcd/ca.crt", s.etcd_ca.cert), ("etcd/ca.key", s.etcd_ca.key),
                  ("sa.pub", s.service_account.cert), ("sa.key", s.service_account.key)]
    return join, Pki(tuple(files))


def _repository_warnings(doc: Document, release: dict, mirrors: dict) -> list[Problem]:
    """Package repositories upstream no longer serves and the profile does not mirror."""
    warnings = []
    crio_mirrored = "crio" in mirrors and ("libcontainers" in mirrors or "libcontainers" not in releases.repo(release["crio_repo"]))
    for repo_key, mirror_key, mirrored in ((release["kube_repo"], "kubernetes", "kubernetes" in mirrors),
                                           (release["crio_repo"], "crio", crio_mirrored)):
        if not mirrored and not releases.repo(repo_key).get("served", True):
            warnings.append(doc.warning(("kubernetes", "version"), f"the {repo_key} package repository is no longer "
                                        f"served upstream; mirror it and set mirrors.{mirror_key} (and "
                                        f"mirrors.libcontainers for Kubic) in the profile"))
    return warnings


def _access_warnings(doc: Document, users: dict, cl: dict, kube: KubeSpec) -> list[Problem]:
    """Nobody can log in, or the bootstrap token never expires."""
    warnings = []
    if not users:
        warnings.append(doc.warning((), "no users: the Kickstart locks root and adds no admin, so nobody can log in "
                                        "(cloud-init keeps the image's default user); set users.admin with ssh_keys "
                                        "and sudo: nopasswd"))
    if not cl.get("join") and not any(ch in "123456789" for ch in kube.token_ttl):
        warnings.append(doc.warning(("kubernetes", "token_ttl"), f"{kube.token_ttl} makes a bootstrap token that never "
                                    "expires: whoever reads any artifact can join nodes for good; use a lifetime such "
                                    "as 24h and `gen token renew`"))
    return warnings


def _subscription_warnings(doc: Document, os_entry: dict, os_repos: RepoFile | None) -> list[Problem]:
    """An OS that needs a subscription, with neither an installation source nor repositories of its own."""
    o = _section(doc, "os")
    if not os_entry.get("requires_subscription"):
        return []
    warnings = []
    if not o.get("install_url"):
        warnings.append(doc.warning(("os", "distro"), f"{os_entry['name']} installs from Red Hat's CDN only with a "
                                    f"subscription: boot the installer from a RHEL DVD or give os.install_url of a "
                                    f"Satellite or internal mirror"))
    if not o.get("registration") and not (os_repos and any(r.id == "k8s-firstboot-baseos" for r in os_repos.repos)):
        warnings.append(doc.warning(("os", "distro"), (
            f"{os_entry['name']} has no package repositories until it is registered: set os.registration "
            f"(organization, activation_key) or mirrors.os.baseos and mirrors.os.appstream (a Satellite or mirror)")))
    return warnings


def _virtual_ip(cl: dict, role: str, action: str) -> VirtualIp | None:
    """keepalived's settings on a control plane of a cluster with a virtual IP."""
    v = cl.get("virtual_ip")
    if not v or role != "control-plane":
        return None
    return VirtualIp(v["address"], v.get("interface", ""), pick(v, "router_id", "cluster", "virtual_ip"),
                     150 if action == "init" else 100)


def _kube_packages(release: dict, version: str, role: str) -> tuple[str, ...]:
    # workers pull with crictl: from 1.32 kubeadm's package no longer requires cri-tools (kubernetes/release#3626),
    # and the Kubernetes repository of the minor holds the cri-tools of that minor; where the release data pins
    # one (CRI-O that speaks only CRI v1alpha2), every role installs that one
    return (tuple(f"{p}-{version}" for p in KUBE_PACKAGES)
            + ((f"cri-tools-{release['cri_tools']}",) if release.get("cri_tools") else ("cri-tools",) if role == "worker" else ()))


def _network(net: dict) -> Network:
    return Network(bootproto=pick(net, "bootproto", "network"), device=pick(net, "device", "network"),
                   address=net.get("address", ""), gateway=net.get("gateway", ""),
                   nameservers=tuple(net.get("nameservers", ())), mac=net.get("mac", "").lower())


def _users(users: dict) -> dict:
    """The Node's root and admin fields."""
    root, admin = users.get("root") or {}, users.get("admin")
    return dict(root_password_hash=root.get("password_hash", ""),
                root_locked=pick(root, "locked", "users", "root"),
                admin=Admin(admin["name"], admin.get("password_hash", ""), tuple(admin.get("ssh_keys", ())),
                            pick(admin, "sudo", "users", "admin") == "nopasswd") if admin else None)


def _bootstrap(doc: Document) -> dict:
    """The Node's retry, timeout and phone-home fields."""
    b = _section(doc, "bootstrap")
    return dict(step_timeout=pick(b, "step_timeout", "bootstrap"), retry_delay=pick(b, "retry_delay", "bootstrap"),
                report_url=b.get("report_url", ""))


def makes_secrets(doc: Document, secrets_dir: Path | None = None) -> bool:
    """Whether resolving this checked profile would create its cluster's secrets file (a build resolves such a
    node in its main process, so that processes it forks only ever read the file)."""
    cl = _section(doc, "cluster")
    return not cl.get("join") and not secrets.exist(pick(cl, "name", "cluster"), secrets_dir)


def resolve(doc: Document, secrets_dir: Path | None = None, create_secrets: bool = True) -> Node:
    """The node a checked profile describes; create_secrets=False uses throwaway secrets if none exist yet."""
    data = doc.data
    o, k, c, net, cl, mirrors = (_section(doc, s) for s in ("os", "kubernetes", "cni", "network", "cluster", "mirrors"))
    role, action = _role_and_action(data, cl)
    cluster = pick(cl, "name", "cluster")
    release = releases.kube_release(releases.minor_of(k["version"]))
    os_key = releases.os_key(o["distro"], o["version"])
    os_entry = releases.os_releases()[os_key]
    cni, cni_entry = _cni(c, releases.minor_of(k["version"]))
    kube = _kube(k, net, mirrors.get("images", ""), release, cni_entry)
    join, pki = _join_and_pki(cl, cluster, role, k["version"], secrets_dir, create_secrets)
    vip = _virtual_ip(cl, role, action)

    os_repos = _os_repo_file(doc, os_entry)
    hosts = tuple(HostEntry(h["ip"], tuple(h["names"])) for h in data.get("hosts", ()))
    node_proxy = proxy.resolve_proxy(_section(doc, "proxy"), proxy.cluster_destinations(
        kube, data["hostname"], net.get("address", ""), hosts, (cl.get("virtual_ip") or {}).get("address", "")))
    os_spec, installer_warnings = _os_spec(doc, os_entry, os_key, node_proxy, own_repos=os_repos is not None)
    warnings = (_repository_warnings(doc, release, mirrors) + _access_warnings(doc, _section(doc, "users"), cl, kube)
                + _subscription_warnings(doc, os_entry, os_repos)
                + [doc.warning(path, message) for path, message
                   in proxy.cidr_warnings(_section(doc, "proxy"), os_entry["name"], os_entry.get("curl", ""))]
                + [doc.warning(("proxy", "no_proxy"), message) for message in installer_warnings])
    ports = releases.data()["kubernetes_ports"]["control_plane" if role == "control-plane" else "worker"]
    node = Node(
        source=file_label(doc.files[0]), role=role, action=action, hostname=data["hostname"], cluster=cluster,
        os=os_spec, network=_network(net), kube=kube, cni=cni, join=join, pki=pki,
        repo_files=proxy.with_direct_repos(((os_repos,) if os_repos else ())
                                           + _repo_files(kube.minor, release, os_entry, mirrors), node_proxy),
        packages=tuple(os_entry["base_packages"]) + (("keepalived",) if vip else ()),
        crio_packages=("cri-o",),
        kube_packages=_kube_packages(release, kube.version, role),
        firewall_ports=tuple(ports) + cni.ports,
        hosts=hosts,
        **_users(_section(doc, "users")),
        **_bootstrap(doc),
        proxy=node_proxy,
        virtual_ip=vip,
        firewall_protocols=tuple(cni_entry.get("protocols", ())) + (("vrrp",) if vip else ()),
        registry_mirrors=tuple(RegistryMirror(m["prefix"], m["location"], pick(m, "insecure", "mirrors", "registries"))
                               for m in mirrors.get("registries", ())),
        registration=Registration(o["registration"]["organization"], o["registration"]["activation_key"])
        if o.get("registration") else None,
        air_gapped=pick(data, "air_gapped"),
        warnings=tuple(warnings),
        cloud_init=_cloud_init(doc),
        pxe=_pxe(doc, os_spec),
    )
    later = trust.download_warnings(node) + ([(("air_gapped",), m) for m in airgap.public_downloads(node)]
                                             if node.air_gapped else [])
    node = dataclasses.replace(node, warnings=node.warnings + tuple(doc.warning(p, m) for p, m in later))
    return node
