"""Known quadlet sections and keys, per podman-systemd.unit(5) and its per-type pages
(podman-container.unit(5), podman-volume.unit(5), …, podman 5.x).

An unknown key is a warning, not an error: newer podman versions add keys, and a release
written for them should still install here with a clear note.
"""

from __future__ import annotations

# Keys every quadlet type accepts.
_COMMON = {"ContainersConfModule", "GlobalArgs", "PodmanArgs", "ServiceName"}

CONTAINER_KEYS = _COMMON | {
    "AddCapability", "AddDevice", "AddHost", "Annotation", "AutoUpdate", "CgroupsMode",
    "ContainerName", "DNS", "DNSOption", "DNSSearch", "DropCapability", "Entrypoint",
    "Environment", "EnvironmentFile", "EnvironmentHost", "Exec", "ExposeHostPort", "GIDMap",
    "Group", "GroupAdd", "HealthCmd", "HealthInterval", "HealthLogDestination",
    "HealthMaxLogCount", "HealthMaxLogSize", "HealthOnFailure", "HealthRetries",
    "HealthStartPeriod", "HealthStartupCmd", "HealthStartupInterval", "HealthStartupRetries",
    "HealthStartupSuccess", "HealthStartupTimeout", "HealthTimeout", "HostName", "IP", "IP6",
    "Image", "Label", "LogDriver", "LogOpt", "Mask", "Memory", "Mount", "Network",
    "NetworkAlias", "NoNewPrivileges", "Notify", "PidsLimit", "Pod", "PublishPort", "Pull",
    "ReadOnly", "ReadOnlyTmpfs", "ReloadCmd", "ReloadSignal", "RemapGid", "RemapUid",
    "RemapUidSize", "RemapUsers", "Retry", "RetryDelay", "Rootfs", "RunInit",
    "SeccompProfile", "Secret", "SecurityLabelDisable", "SecurityLabelFileType",
    "SecurityLabelLevel", "SecurityLabelNested", "SecurityLabelType", "ShmSize",
    "StartWithPod", "StopSignal", "StopTimeout", "SubGIDMap", "SubUIDMap", "Sysctl",
    "Timezone", "Tmpfs", "UIDMap", "Ulimit", "Unmask", "User", "UserNS", "VolatileTmp",
    "Volume", "WorkingDir",
}  # fmt: skip

VOLUME_KEYS = _COMMON | {
    "Copy", "Device", "Driver", "Group", "Image", "Label", "Options", "Type", "User",
    "VolumeName",
}  # fmt: skip

NETWORK_KEYS = _COMMON | {
    "DisableDNS", "DNS", "Driver", "Gateway", "InterfaceName", "Internal", "IPAMDriver",
    "IPRange", "IPv6", "Label", "NetworkDeleteOnStop", "NetworkName", "Options", "Subnet",
}  # fmt: skip

KUBE_KEYS = _COMMON | {
    "AutoUpdate", "ConfigMap", "ExitCodePropagation", "KubeDownForce", "LogDriver", "LogOpt",
    "Network", "PublishPort", "RemapGid", "RemapUid", "RemapUidSize", "RemapUsers",
    "SetWorkingDirectory", "UserNS", "Yaml",
}  # fmt: skip

IMAGE_KEYS = _COMMON | {
    "AllTags", "Arch", "AuthFile", "CertDir", "Creds", "DecryptionKey", "Image", "ImageTag",
    "OS", "Retry", "RetryDelay", "TLSVerify", "Variant",
}  # fmt: skip

BUILD_KEYS = _COMMON | {
    "Annotation", "Arch", "AuthFile", "DNS", "DNSOption", "DNSSearch", "Environment", "File",
    "ForceRM", "GroupAdd", "ImageTag", "Label", "Network", "Pull", "Retry", "RetryDelay",
    "Secret", "SetWorkingDirectory", "Target", "TLSVerify", "Variant", "Volume",
}  # fmt: skip

POD_KEYS = _COMMON | {
    "AddHost", "DNS", "DNSOption", "DNSSearch", "ExitPolicy", "GIDMap", "HostName", "IP",
    "IP6", "Label", "Network", "NetworkAlias", "PodName", "PublishPort", "RemapGid",
    "RemapUid", "RemapUidSize", "RemapUsers", "ShmSize", "SubGIDMap", "SubUIDMap", "UIDMap",
    "UserNS", "Volume",
}  # fmt: skip

QUADLET_KEYS = {"DefaultDependencies"}

# extension → (its own section, that section's keys, suffix of the generated service name)
TYPES: dict[str, tuple[str, set[str], str]] = {
    ".container": ("Container", CONTAINER_KEYS, ""),
    ".volume": ("Volume", VOLUME_KEYS, "-volume"),
    ".network": ("Network", NETWORK_KEYS, "-network"),
    ".kube": ("Kube", KUBE_KEYS, ""),
    ".image": ("Image", IMAGE_KEYS, "-image"),
    ".build": ("Build", BUILD_KEYS, "-build"),
    ".pod": ("Pod", POD_KEYS, "-pod"),
}

# Sections systemd itself handles; quadlet passes them through untouched.
SYSTEMD_SECTIONS = {"Unit", "Service", "Install"}

# Keys a type cannot do without (podman-*.unit(5)): (any of these keys, message).
REQUIRED: dict[str, tuple[tuple[str, ...], str]] = {
    ".container": (("Image", "Rootfs"), "[Container] needs Image= (the image the service runs)"),
    ".kube": (("Yaml",), "[Kube] needs Yaml= (the Kubernetes YAML to play)"),
    ".image": (("Image",), "[Image] needs Image= (the image to pull)"),
    ".build": (("ImageTag",), "[Build] needs ImageTag= (the tag of the built image)"),
}
