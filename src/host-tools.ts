// The host tools icos runs, the Debian package that provides each, and how to ask its version.
// scripts/setup-host.sh installs these packages; `icos doctor` checks them. Plain data on the ground
// floor, beside src/exec.ts, which names the package when a tool is missing.

export interface HostTool {
  command: string;
  pkg: string;
  /** Arguments that print a version; the first version number in the output is reported. */
  versionArgs: string[];
  /** Ask this command (same package) instead, for tools that cannot print their own version. */
  versionCommand?: string;
  purpose: string;
}

export const HOST_TOOLS: readonly HostTool[] = [
  { command: "podman", pkg: "podman", versionArgs: ["--version"], purpose: "build Dockerfiles without a daemon" },
  { command: "runc", pkg: "runc", versionArgs: ["--version"], purpose: "OCI runtime for RUN steps without network" },
  { command: "mmdebstrap", pkg: "mmdebstrap", versionArgs: ["--version"], purpose: "bootstrap base root filesystems" },
  { command: "mke2fs", pkg: "e2fsprogs", versionArgs: ["-V"], purpose: "make ext4 images from a tree" },
  { command: "debugfs", pkg: "e2fsprogs", versionArgs: ["-V"], purpose: "normalise ext4 ctimes and counters" },
  { command: "xfs_io", pkg: "xfsprogs", versionArgs: ["-V"], purpose: "map the data extents of sparse images (SEEK_DATA/SEEK_HOLE)" },
  { command: "e2fsck", pkg: "e2fsprogs", versionArgs: ["-V"], purpose: "check ext4 images" },
  { command: "mkfs.vfat", pkg: "dosfstools", versionArgs: ["--help"], purpose: "make vfat images" },
  { command: "fsck.vfat", pkg: "dosfstools", versionArgs: ["--help"], versionCommand: "mkfs.vfat", purpose: "check vfat images" },
  { command: "mcopy", pkg: "mtools", versionArgs: ["--version"], purpose: "write files into vfat images" },
  { command: "sgdisk", pkg: "gdisk", versionArgs: ["--version"], purpose: "verify GPT disks (oracle)" },
  { command: "blkid", pkg: "util-linux", versionArgs: ["-V"], purpose: "probe filesystems inside partitions" },
  { command: "mount", pkg: "mount", versionArgs: ["--version"], purpose: "an overlay over podman's image mount (no copy of the image tree)" },
  { command: "systemctl", pkg: "systemd", versionArgs: ["--version"], purpose: "enable units in an image tree (systemctl --root)" },
  { command: "flock", pkg: "util-linux", versionArgs: ["--version"], purpose: "lock the build cache (one build at a time)" },
  { command: "grub-mkimage", pkg: "grub-common", versionArgs: ["--version"], purpose: "make the GRUB EFI binary" },
  { command: "grub-editenv", pkg: "grub-common", versionArgs: ["--version"], purpose: "read grubenv (oracle)" },
  { command: "qemu-system-x86_64", pkg: "qemu-system-x86", versionArgs: ["--version"], purpose: "boot images" },
  { command: "qemu-img", pkg: "qemu-utils", versionArgs: ["--version"], purpose: "copy-on-write overlays" },
  { command: "zstd", pkg: "zstd", versionArgs: ["--version"], purpose: "compress artifacts" },
  { command: "tar", pkg: "tar", versionArgs: ["--version"], purpose: "read artifacts (oracle)" },
  { command: "lvm", pkg: "lvm2", versionArgs: ["version"], purpose: "check LVM metadata (oracle)" },
  { command: "cryptsetup", pkg: "cryptsetup-bin", versionArgs: ["--version"], purpose: "LUKS and dm-verity" },
  { command: "virt-xml-validate", pkg: "libvirt-clients", versionArgs: ["--version"], purpose: "validate libvirt XML" },
  { command: "shellcheck", pkg: "shellcheck", versionArgs: ["--version"], purpose: "lint device-side shell" },
  { command: "openssl", pkg: "openssl", versionArgs: ["version"], purpose: "sign update images, check node operator keys" },
  { command: "ssh", pkg: "openssh-client", versionArgs: ["-V"], purpose: "reach a device (icos upgrade)" },
];

/** Files (not commands) icos needs, with their package. */
export const HOST_FILES: readonly { path: string; pkg: string; purpose: string }[] = [
  { path: "/usr/share/ovmf/OVMF.fd", pkg: "ovmf", purpose: "UEFI firmware for QEMU" },
  { path: "/usr/lib/grub/x86_64-efi/modinfo.sh", pkg: "grub-efi-amd64-bin", purpose: "GRUB EFI modules" },
];

export function packageOf(command: string): string | undefined {
  return HOST_TOOLS.find((t) => t.command === command)?.pkg;
}
