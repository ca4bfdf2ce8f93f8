#!/bin/sh
# Debian's own autopkgtest on our firmware (docs/downstream.md, "Debian's autopkgtest on our
# files"): builds distro.yaml, assembles and signs a release of it with a throw-away key,
# installs it under Debian's paths (pull --layout debian --destdir), and runs Debian's
# debian/tests/shell.py against that in the QEMU image. Exits 1 when a test that passes with
# Debian's own files (the baseline below) does not pass with ours, 0 otherwise.
#
# Usage: scripts/debian-autopkgtest-proof.sh [WORKDIR]
#   ARTIFACTS=DIR  use this artifacts directory of distro.yaml (index.json and all its
#                  variants) instead of building one in WORKDIR/artifacts
#   BASELINE=FILE  the output of `npm run autopkgtest -- --destdir D` against Debian's own
#                  packages unpacked into D, instead of the baseline recorded below
#   IMAGE=IMAGE    passed to npm run autopkgtest as --image
set -eu
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/edk2-matrix-autopkgtest-proof-XXXXXX")}
mkdir -p "$work"
echo "debian-autopkgtest-proof: in $work" >&2

# The tests that pass with Debian's own trixie packages (2025.02-8+deb13u1) on an amd64 host, in
# the QEMU image (17 of 25; the 8 others are skipped there: they need arm64's grub-efi-arm64).
baseline_recorded='test_aavmf
test_aavmf32
test_loongarch64
test_ovmf32_4m_pc
test_ovmf32_4m_q35
test_ovmf_4m_ms_secure_boot_no_shell
test_ovmf_4m_ms_secure_boot_signed
test_ovmf_4m_ms_secure_boot_strictnx_no_shell
test_ovmf_4m_ms_secure_boot_strictnx_signed
test_ovmf_4m_ms_secure_boot_strictnx_unsigned
test_ovmf_4m_ms_secure_boot_unsigned
test_ovmf_4m_pc
test_ovmf_4m_q35
test_ovmf_snakeoil_secure_boot_no_shell
test_ovmf_snakeoil_secure_boot_signed
test_ovmf_snakeoil_secure_boot_unsigned
test_riscv64'
if [ -n "${BASELINE:-}" ]; then
  baseline=$(awk '$1 == "passed" { print $2 }' "$BASELINE" | sort)
else
  baseline=$(printf '%s\n' "$baseline_recorded" | sort)
fi

artifacts=${ARTIFACTS:-$work/artifacts}
if [ -z "${ARTIFACTS:-}" ]; then
  npm run -s matrix -- --config distro.yaml --out "$artifacts"
fi
# Debian's two secure-boot flavours differ in one setting, PcdUninstallMemAttrProtocol (TRUE in
# the shim-compatible *.secboot.fd, FALSE in *.secboot.strictnx.fd), read by the platform boot
# manager library that BdsDxe links: their code images must differ in BdsDxe and nowhere else.
for pair in \
  x64-secureboot-enrolled-smm-tpm2-network-release:x64-secureboot-smm-tpm2-network-strictnx-release:OVMF_CODE.fd \
  ia32-secureboot-smm-tpm2-network-release:ia32-secureboot-smm-tpm2-network-strictnx-release:OVMF_CODE.fd \
  aarch64-secureboot-enrolled-tpm2-network-release:aarch64-secureboot-tpm2-network-strictnx-release:QEMU_EFI-pflash.raw; do
  shim=${pair%%:*}; rest=${pair#*:}; nx=${rest%%:*}; image=${rest#*:}
  modules=$(node --import tsx scripts/flavour-modules.ts "$artifacts/$shim/$image" "$artifacts/$nx/$image" | tr '\n' ' ')
  if [ "$modules" != "BdsDxe " ]; then
    echo "debian-autopkgtest-proof: FAILED: $shim and $nx should differ in BdsDxe alone, not in: ${modules:-nothing}" >&2
    exit 1
  fi
  echo "debian-autopkgtest-proof: $nx differs from $shim in BdsDxe alone (PcdUninstallMemAttrProtocol)" >&2
done

npm run -s release -- keygen --out "$work/publisher"
npm run -s release -- assemble --config distro.yaml --tag v0.0.0-autopkgtest-proof --commit "$(git rev-parse HEAD)" \
  --out "$work/release" --from "$artifacts"
npm run -s release -- sign "$work/release" --key "$work/publisher/release.key"
npm run -s pull -- "$work/release" --trust "$work/publisher/release.pub" --layout debian --destdir "$work/destdir"

# The run's own verdict is not the proof's: a test failing that fails with Debian's files too
# is the environment's. Its output is kept; what decides is the baseline's passed tests.
rm -f "$work/autopkgtest.exit"
{ npm run -s autopkgtest -- --destdir "$work/destdir" ${IMAGE:+--image "$IMAGE"} || echo $? > "$work/autopkgtest.exit"; } |
  tee "$work/autopkgtest.txt"
status=$(cat "$work/autopkgtest.exit" 2>/dev/null || echo 0)
awk '$1 == "passed" { print $2 }' "$work/autopkgtest.txt" | sort > "$work/passed.txt"
lost=$(printf '%s\n' "$baseline" | comm -23 - "$work/passed.txt")
if [ -n "$lost" ]; then
  echo "debian-autopkgtest-proof: FAILED: passes with Debian's files, not with ours:" >&2
  printf '  %s\n' $lost >&2
  exit 1
fi
echo "debian-autopkgtest-proof: every test that passes with Debian's files passes with ours (autopkgtest exit $status); output in $work/autopkgtest.txt" >&2
