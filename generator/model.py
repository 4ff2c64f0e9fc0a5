"""The resolved node: every decision made, nothing left to look up. Renderers read only this."""

from dataclasses import dataclass, field

from generator.errors import Problem


@dataclass(frozen=True)
class YumRepo:
    id: str
    name: str
    baseurl: str
    gpgkey: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    repo_gpgcheck: bool = False
    module_hotfixes: bool = False
    mirror_key: str = ""          # the profile key that points it at a mirror: mirrors.<mirror_key>
    direct: bool = False          # no_proxy names its host: dnf must not use dnf.conf's proxy for it


@dataclass(frozen=True)
class RepoFile:
    path: str
    repos: tuple[YumRepo, ...]


@dataclass(frozen=True)
class OsSpec:
    key: str             # e.g. rocky-9
    name: str            # "Rocky Linux 9"
    distro: str
    major: int
    ks_handler: str      # pykickstart handler that validates this OS's Kickstart
    install_url: str
    appstream_url: str   # extra repository Anaconda needs (empty when the tree holds everything)
    update: bool
    selinux: str
    firewall: str
    timezone: str
    language: str
    keyboard: str
    disk: str
    zram_swap: bool      # the OS turns on swap on zram by default (Fedora)
    kickstart_eula: bool  # Anaconda asks for the licence agreement (RHEL): the Kickstart accepts it
    install_proxy: str = ""     # Anaconda's --proxy for install_url: empty where no_proxy says direct
    appstream_proxy: str = ""
    own_repos: bool = False      # the installed system uses our OS repo file; the stock repo files are disabled
    registration: bool = False   # RHEL: subscription-manager registers with the profile's activation key


@dataclass(frozen=True)
class KubeSpec:
    minor: str                 # "1.34"
    version: str               # what the packages are pinned to: "1.34" (newest patch) or "1.34.2"
    kubeadm_api: str           # v1beta2 | v1beta3 | v1beta4
    container_runtime_flag: bool
    endpoint_in_kubelet_config: bool
    cri_socket: str
    image_repository: str
    pause_image: str
    control_plane_taints: tuple[str, ...]
    crio_conmon_path_fix: bool
    crio_bridge_cni_files: tuple[str, ...]
    pod_cidr: str
    service_cidr: str
    endpoint_host: str
    endpoint_port: int
    advertise_address: str     # the profile's, else the static network.address (empty: kubeadm's default route)
    token_ttl: str
    advertise_explicit: bool = False   # kubernetes.advertise_address was set, not derived from network.address
    dns_image_repository: str = ""   # ClusterConfiguration dns.imageRepository when the default path is wrong


@dataclass(frozen=True)
class CniSpec:
    plugin: str
    version: str
    manifest_url: str          # manifest installs (calico, flannel); empty for cilium
    ports: tuple[str, ...]
    install: str = "manifest"  # manifest | cilium-cli
    release: str = ""          # exact release the cilium CLI installs
    cli_url: str = ""          # the cilium CLI tarball (its .sha256sum beside it)
    interfaces: tuple[str, ...] = ()   # tunnels and pod veths (firewalld: `+` ends a prefix)
    manifest_archive: str = ""  # a release tarball holding the manifest (when no plain URL serves it)
    manifest_member: str = ""   # the manifest's path inside manifest_archive
    chart_url: str = ""        # cilium's Helm chart tarball, for a release the CLI does not embed (or a mirror)
    image_registries: tuple[str, ...] = ()  # where this release's manifest (or chart) pulls its images from
    manifest_sha256: str = ""  # checked before `kubectl apply`: the profile's, or the pin of data/checksums.yaml


@dataclass(frozen=True)
class Join:
    token: str
    ca_cert_hash: str
    from_profile: bool = False   # cluster.join: a cluster made elsewhere, no secrets file of ours


@dataclass(frozen=True)
class Pki:
    """Files a control plane needs before kubeadm runs: relative path under pki/ -> PEM text."""
    files: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Admin:
    name: str
    password_hash: str
    ssh_keys: tuple[str, ...]
    nopasswd_sudo: bool = False   # a sudoers drop-in: the way in for an admin with only SSH keys


@dataclass(frozen=True)
class HostEntry:
    ip: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Network:
    bootproto: str
    device: str
    address: str   # with prefix, static only
    gateway: str
    nameservers: tuple[str, ...]
    mac: str = ""   # lower case; when set, the installer and cloud-init pick the interface by it


@dataclass(frozen=True)
class Pxe:
    """How the node installs from the network (pxe:); only `gen build`'s PXE tree reads it."""
    http_url: str          # where the build's http/ is served (inst.ks=); empty: no PXE files
    proxy_subnet: str      # empty: no PXE files
    tftp_root: str
    kernel: str            # relative to tftp_root
    initrd: str
    kernel_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class VirtualIp:
    """keepalived on the control planes holds the API server's address (VRRP)."""
    address: str
    interface: str   # empty: the one that routes to the address, found at boot
    router_id: int
    priority: int    # the first control plane starts highest so it holds the address during kubeadm init


@dataclass(frozen=True)
class Proxy:
    http: str
    https: str
    no_proxy: tuple[str, ...]   # the profile's entries plus the cluster's own networks and endpoint


@dataclass(frozen=True)
class RegistryMirror:
    prefix: str      # docker.io
    location: str    # registry.internal:5000/docker.io
    insecure: bool


@dataclass(frozen=True)
class Registration:
    organization: str
    activation_key: str


@dataclass(frozen=True)
class ExtraFile:
    """A file the profile adds through cloud-init's write_files (cloud_init.write_files)."""
    path: str
    content: str
    permissions: str
    owner: str
    defer: bool


@dataclass(frozen=True)
class Ntp:
    servers: tuple[str, ...] = ()
    pools: tuple[str, ...] = ()


@dataclass(frozen=True)
class CloudInitExtras:
    """cloud-init-only settings of the profile (cloud_init:), checked by the schema; Kickstart ignores them."""
    packages: tuple[str, ...] = ()
    bootcmd: tuple[str | tuple[str, ...], ...] = ()   # a shell line, or an argv run without a shell
    ntp: Ntp | None = None
    write_files: tuple[ExtraFile, ...] = ()


@dataclass(frozen=True, slots=True)  # a build holds one per node: no __dict__ each
class Node:
    source: str
    role: str                  # control-plane | worker
    action: str                # init | join-control-plane | join
    hostname: str
    cluster: str
    os: OsSpec
    network: Network
    kube: KubeSpec
    cni: CniSpec
    join: Join
    pki: Pki | None            # only on control planes
    repo_files: tuple[RepoFile, ...]
    packages: tuple[str, ...]          # installed before CRI-O (tools the steps need)
    crio_packages: tuple[str, ...]
    kube_packages: tuple[str, ...]     # pinned names: kubelet-1.34.* ...
    firewall_ports: tuple[str, ...]
    hosts: tuple[HostEntry, ...]
    root_password_hash: str
    root_locked: bool
    admin: Admin | None
    step_timeout: int
    retry_delay: int
    report_url: str = ""                     # status JSON POSTed here at every change (phone-home)
    proxy: Proxy | None = None
    virtual_ip: VirtualIp | None = None      # control planes of an HA cluster without a load balancer
    firewall_protocols: tuple[str, ...] = ()  # IP protocols to allow (vrrp, ipencap)
    registry_mirrors: tuple[RegistryMirror, ...] = ()
    registration: Registration | None = None  # RHEL subscription (a secret: 0600 file, removed after use)
    air_gapped: bool = False
    warnings: tuple[Problem, ...] = field(default=())  # severity "warning", located in the profile
    cloud_init: CloudInitExtras = field(default=CloudInitExtras())
    pxe: Pxe | None = None                  # None: the profile has no pxe: section

    @property
    def is_control_plane(self) -> bool:
        return self.role == "control-plane"

    @property
    def endpoint(self) -> str:
        return f"{self.kube.endpoint_host}:{self.kube.endpoint_port}"
