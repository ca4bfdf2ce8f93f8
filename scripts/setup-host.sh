#!/bin/sh
# Prepares a Debian host for edk2-matrix: installs what is missing (Docker engine, mmdebstrap
# to bootstrap the base image offline, QEMU to boot the firmware; for the tests minisign,
# libvirt, FAT tools and swtpm, and apt's arm64 package lists) and starts a Docker engine if none answers. Safe to run again.
# Needs root (or sudo). libvirt's daemon is not started here: the tests start their own.
#
# Packages come from the host's own apt configuration. On a host without systemd the engine is
# started in the background with DOCKERD_ARGS (default: no iptables, no default bridge: builds
# run with --network none and the image build with the host network).
set -eu

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E "$0" "$@"
fi

need=""
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then need="$need docker.io"; fi
command -v mmdebstrap >/dev/null 2>&1 || need="$need mmdebstrap"
command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
command -v qemu-system-aarch64 >/dev/null 2>&1 || need="$need qemu-system-arm"
command -v sha256sum >/dev/null 2>&1 || need="$need coreutils"
command -v xz >/dev/null 2>&1 || need="$need xz-utils"
# Releases: the tests check our minisign signatures with Debian's minisign, as a
# distribution would.
command -v minisign >/dev/null 2>&1 || need="$need minisign"
# Downstream: libvirt's daemon and virsh (the pull tests show libvirt picking our firmware by
# itself), and a FAT image maker for the disk that offers the UEFI Shell to secure-boot builds.
command -v libvirtd >/dev/null 2>&1 || need="$need libvirt-daemon-system libvirt-daemon-driver-qemu"
command -v virsh >/dev/null 2>&1 || need="$need libvirt-clients"
command -v mkfs.fat >/dev/null 2>&1 || need="$need dosfstools"
command -v mcopy >/dev/null 2>&1 || need="$need mtools"
# The unit tests run the builder's BaseTools fixes (Python) on small copies of the code they mend.
command -v python3 >/dev/null 2>&1 || need="$need python3"
# Secure Boot and TPM proofs: a software TPM for the tpm2 variants to measure into.
command -v swtpm >/dev/null 2>&1 || need="$need swtpm"
command -v swtpm_ioctl >/dev/null 2>&1 || need="$need swtpm-tools"
# Debian's Microsoft-signed shim and signed grub, which the secure-boot tests boot, are fetched
# with `apt-get download` for amd64 and arm64: apt must know the arm64 architecture.
update=""
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  update=yes
fi
# Debian's own firmware descriptors (/usr/share/qemu/firmware): the tests check our reading of
# QEMU's descriptor schema against them.
[ -e /usr/share/qemu/firmware/60-edk2-x86_64.json ] || need="$need ovmf"
[ -e /usr/share/qemu/firmware/60-edk2-aarch64.json ] || need="$need qemu-efi-aarch64"

if [ -n "$need" ] || [ -n "$update" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
fi
if [ -n "$need" ]; then
  echo "setup-host: installing$need"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

if docker version >/dev/null 2>&1; then
  echo "setup-host: a Docker engine answers"
  exit 0
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl start docker
else
  echo "setup-host: starting dockerd (log: /var/log/dockerd.log)"
  # shellcheck disable=SC2086
  nohup dockerd ${DOCKERD_ARGS:---iptables=false --bridge=none} >/var/log/dockerd.log 2>&1 &
fi

i=0
until docker version >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt 60 ]; then
    echo "setup-host: the Docker engine did not answer within 60 s; see /var/log/dockerd.log" >&2
    exit 1
  fi
  sleep 1
done
echo "setup-host: the Docker engine answers"
