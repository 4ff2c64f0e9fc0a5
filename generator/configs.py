"""Config files the node needs, built as data and dumped (never templated YAML/INI text)."""

import yaml

from generator import proxy, yamldump
from generator.model import Node, RepoFile
from generator.node_paths import DNF_CONF, DNF_PROXY_CONF, KEEPALIVED_CHECK, PROXY_BOOT_ENV, PROXY_ENV

KUBEADM_GROUP = "kubeadm.k8s.io"

MODULES = ("overlay", "br_netfilter")
SYSCTLS = (
    ("net.bridge.bridge-nf-call-iptables", "1"),
    ("net.ipv4.ip_forward", "1"),
    ("net.bridge.bridge-nf-call-ip6tables", "1"),
)


_CSafeDumper = yamldump.libyaml_twin(yaml.SafeDumper)


_dump_document = yamldump.Remembered(lambda document: yamldump.dump(
    document, yaml.SafeDumper, _CSafeDumper, yamldump.WORD, sort_keys=False, default_flow_style=False))


def dump_yaml_documents(documents: list[dict]) -> str:
    # one by one, remembered: a fleet's nodes share their ClusterConfiguration and KubeletConfiguration
    return "---\n".join(_dump_document.mapping(d) for d in documents)


def _node_registration(node: Node) -> dict:
    return {"name": node.hostname, "criSocket": node.kube.cri_socket}


def _kubelet_configuration(node: Node) -> dict:
    config = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", "cgroupDriver": "systemd"}
    if node.kube.endpoint_in_kubelet_config:
        config["containerRuntimeEndpoint"] = node.kube.cri_socket
    return config


def _images(node: Node) -> dict:
    """The ClusterConfiguration fields that decide which images kubeadm pulls."""
    images = {"imageRepository": node.kube.image_repository}
    if node.kube.dns_image_repository:
        images["dns"] = {"imageRepository": node.kube.dns_image_repository}
    return images


def kubeadm_images_config(node: Node) -> str:
    """What `kubeadm config images pull --config` loads on a joining control plane.

    kubeadm loads that file as an init configuration and refuses one holding only a JoinConfiguration; this
    one names the same images as the first control plane's config, and no secret.
    """
    api = f"{KUBEADM_GROUP}/{node.kube.kubeadm_api}"
    init = {"apiVersion": api, "kind": "InitConfiguration", "nodeRegistration": {"criSocket": node.kube.cri_socket}}
    cluster = {"apiVersion": api, "kind": "ClusterConfiguration", "kubernetesVersion": f"v{node.kube.version}",
               **_images(node)}
    return dump_yaml_documents([init, cluster])


def kubeadm_config(node: Node) -> str:
    """InitConfiguration+ClusterConfiguration+KubeletConfiguration, or a JoinConfiguration."""
    k = node.kube
    api = f"{KUBEADM_GROUP}/{k.kubeadm_api}"
    if node.action == "init":
        init = {
            "apiVersion": api,
            "kind": "InitConfiguration",
            "bootstrapTokens": [{
                "token": node.join.token,
                "description": "k8s-firstboot: nodes of this cluster join with it",
                "ttl": k.token_ttl,  # usages and groups: kubeadm's defaults (signing, authentication; default-node-token)
            }],
            "nodeRegistration": _node_registration(node),
        }
        if k.advertise_address:
            init["localAPIEndpoint"] = {"advertiseAddress": k.advertise_address}  # bindPort: 6443 by default
        cluster = {
            "apiVersion": api,
            "kind": "ClusterConfiguration",
            "clusterName": node.cluster,
            "kubernetesVersion": f"v{k.version}",
            "controlPlaneEndpoint": node.endpoint,
            **_images(node),
            "networking": {"podSubnet": k.pod_cidr, "serviceSubnet": k.service_cidr},
        }
        return dump_yaml_documents([init, cluster, _kubelet_configuration(node)])
    join = {
        "apiVersion": api,
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": node.endpoint,
                "token": node.join.token,
                "caCertHashes": [node.join.ca_cert_hash],
            },
            "tlsBootstrapToken": node.join.token,
        },
        "nodeRegistration": _node_registration(node),
    }
    if node.action == "join-control-plane":
        join["controlPlane"] = {"localAPIEndpoint": {"bindPort": 6443}}
        if k.advertise_address:
            join["controlPlane"]["localAPIEndpoint"]["advertiseAddress"] = k.advertise_address
    return dump_yaml_documents([join])


def repo_file(repo_file: RepoFile) -> str:
    sections = []
    for r in repo_file.repos:
        lines = [f"[{r.id}]", f"name={r.name}", f"baseurl={r.baseurl}", "enabled=1"]
        lines.append(f"gpgcheck={1 if r.gpgkey else 0}")
        if r.gpgkey:
            lines.append(f"repo_gpgcheck={1 if r.repo_gpgcheck else 0}")
            lines.append("gpgkey=" + " ".join(r.gpgkey))
        if r.exclude:
            lines.append("exclude=" + " ".join(r.exclude))
        if r.module_hotfixes:
            lines.append("module_hotfixes=1")
        if r.direct:  # dnf4 and dnf5: no proxy for this repository, whatever dnf.conf says
            lines.append("proxy=_none_")
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)


def modules_load() -> str:
    return "# loaded at every boot for CRI-O and kube-proxy (k8s-firstboot)\n" + "\n".join(MODULES) + "\n"


def sysctl_conf() -> str:
    return "# needed by Kubernetes networking (k8s-firstboot)\n" + "".join(f"{k} = {v}\n" for k, v in SYSCTLS)


def crio_dropin(node: Node) -> str:
    return (
        "# k8s-firstboot: match the kubelet's cgroup driver and kubeadm's pause image\n"
        "[crio.runtime]\n"
        'cgroup_manager = "systemd"\n'
        "\n"
        "[crio.image]\n"
        f'pause_image = "{node.kube.pause_image}"\n'
    )


def kubelet_sysconfig(node: Node) -> str:
    """/etc/sysconfig/kubelet: only flags that exist in this Kubernetes minor."""
    args = []
    if node.kube.container_runtime_flag:
        args.append("--container-runtime=remote")
    if not node.kube.endpoint_in_kubelet_config:
        args += ["--cgroup-driver=systemd", f"--container-runtime-endpoint={node.kube.cri_socket}"]
    return f"KUBELET_EXTRA_ARGS={' '.join(args)}\n"


def hosts_block(node: Node) -> str:
    return "".join(f"{h.ip} {' '.join(h.names)}\n" for h in node.hosts)


def report_curlrc(node: Node) -> str:
    """curl's config file (`curl -K`) naming the phone-home URL, which may carry credentials: the URL stays off
    command lines (ps, logs) and out of the 0755 script. The schema keeps quotes and backslashes out of URLs."""
    return f'# k8s-firstboot: where the status is POSTed\nurl = "{node.report_url}"\n'


def proxy_env(node: Node) -> str:
    """Read by the bootstrap script (bash) and by systemd (EnvironmentFile): both take KEY="value" lines.

    The schema restricts every value to characters that need no escaping in either.
    """
    p = node.proxy
    values = {"HTTP_PROXY": p.http, "HTTPS_PROXY": p.https, "NO_PROXY": ",".join(p.no_proxy)}
    lines = [f'{k}="{v}"' for k, v in values.items() if v]
    lines += [f'{k.lower()}="{v}"' for k, v in values.items() if v]  # curl reads only the lower-case http_proxy
    return "# k8s-firstboot: proxy for dnf, curl, CRI-O and kubelet\n" + "\n".join(lines) + "\n"




def dnf_proxy_conf(node: Node) -> str:
    """[main] lines that make dnf keep using the proxy after the bootstrap (dnf4 and dnf5 read [main] proxy=),
    the credentials apart in proxy_username/proxy_password, as dnf documents them."""
    url = node.proxy.https or node.proxy.http
    lines = [f"proxy={proxy.without_credentials(url)}"]
    credentials = proxy.url_credentials(url)
    if credentials:
        lines += [f"proxy_username={credentials[0]}", f"proxy_password={credentials[1]}"]
    return "\n".join(lines) + "\n"


def dnf_proxy_has_credentials(node: Node) -> bool:
    return proxy.url_credentials(node.proxy.https or node.proxy.http) is not None


def dnf_proxy_commands(node: Node) -> list[list[str]]:
    """argv lists that put DNF_PROXY_CONF's lines into dnf.conf's [main], replacing earlier ones (idempotent).

    The credentials never reach a command line or the world-readable script; with them dnf.conf becomes root-only
    (non-root dnf5 can then not read its configuration: use sudo).
    """
    commands = [["sed", "-i", "-e", "/^\\[main\\]/,/^\\[/{/^proxy\\(_username\\|_password\\)\\?=/d}",
                 "-e", f"/^\\[main\\]/r {DNF_PROXY_CONF}", DNF_CONF]]
    if dnf_proxy_has_credentials(node):
        commands.append(["chmod", "0600", DNF_CONF])
    return commands


def proxy_dropin() -> str:
    # proxy-boot.env (written at boot, absent before) adds the host's own address to NO_PROXY
    return (f"# k8s-firstboot: reach registries through the proxy\n[Service]\nEnvironmentFile={PROXY_ENV}\n"
            f"EnvironmentFile=-{PROXY_BOOT_ENV}\n")


def registries_conf(node: Node) -> str:
    """containers-registries.conf(5) drop-in: CRI-O pulls from the mirrors first."""
    blocks = []
    for m in node.registry_mirrors:
        blocks.append(f'[[registry]]\nprefix = "{m.prefix}"\nlocation = "{m.prefix}"\n\n'
                      f'[[registry.mirror]]\nlocation = "{m.location}"\ninsecure = {"true" if m.insecure else "false"}\n')
    return "# k8s-firstboot: registry mirrors\n" + "\n".join(blocks)


# stands for the interface that routes to the virtual IP until the vip_start step finds it at boot
VIP_INTERFACE_AT_BOOT = "@VIP_INTERFACE@"


def keepalived_conf(node: Node) -> str:
    """One VRRP instance holding the API address; it moves away from a node whose API server stops answering."""
    v = node.virtual_ip
    return (
        "# k8s-firstboot: the API server's virtual address (kubeadm HA, keepalived option)\n"
        "global_defs {\n    enable_script_security\n    script_user root\n}\n\n"
        "vrrp_script check_apiserver {\n"
        f"    script \"{KEEPALIVED_CHECK}\"\n    interval 3\n    timeout 5\n    fall 10\n    rise 2\n    weight -60\n}}\n\n"
        "vrrp_instance k8s_api {\n"
        "    state BACKUP\n"
        f"    interface {v.interface or VIP_INTERFACE_AT_BOOT}\n    virtual_router_id {v.router_id}\n    priority {v.priority}\n"
        "    advert_int 1\n"
        f"    virtual_ipaddress {{\n        {v.address}\n    }}\n"
        "    track_script {\n        check_apiserver\n    }\n}\n"
    )


def keepalived_check(node: Node) -> str:
    return (
        "#!/bin/bash\n"
        "# k8s-firstboot: keepalived keeps the API address only where the local API server answers\n"
        f"exec curl -sfk --max-time 3 -o /dev/null https://localhost:{node.kube.endpoint_port}/healthz\n"
    )
