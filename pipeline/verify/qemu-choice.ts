/**
 * Which QEMU boots a variant: the host's, or the one in the QEMU image (dockerfiles/qemu).
 * `auto` takes the host's when it is at least the architecture's minimum (platforms.ts,
 * `qemuMinVersion`) and the image's otherwise; `host` and `image` take that one whatever its
 * version; `both` boots with each. Pure, apart from asking the host's binary its version.
 */
import { execFile } from 'node:child_process';
import type { QemuWhere } from '../domain.ts';
import type { QemuVersion } from '../platforms.ts';

export type QemuChoice = 'auto' | QemuWhere | 'both';
export const QEMU_CHOICES: readonly QemuChoice[] = ['auto', 'host', 'image', 'both'];

/** `QEMU emulator version 10.0.6 (Debian 1:10.0.6+ds-0+deb13u2)` → `10.0.6`; undefined when it says no version. */
export function parseQemuVersion(text: string): string | undefined {
  return /QEMU emulator version (\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1];
}

/** True when `version` (`7.2.22`) is at least `min` (`[8, 1]`). */
export function versionAtLeast(version: string, min: QemuVersion): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major !== min[0] ? major > min[0] : minor >= min[1];
}

export const formatMin = (min: QemuVersion): string => `${min[0]}.${min[1]}`;

/**
 * The QEMUs to boot a variant with, in order. `host` is the host binary's version, undefined
 * when the host has none. Under `auto` a host QEMU that is missing or too old gives the image;
 * under `host` it still gives the host (its boot then fails, saying why).
 */
export function chooseQemu(choice: QemuChoice, host: string | undefined, min: QemuVersion): QemuWhere[] {
  switch (choice) {
    case 'host': return ['host'];
    case 'image': return ['image'];
    case 'both': return ['host', 'image'];
    case 'auto': return host !== undefined && versionAtLeast(host, min) ? ['host'] : ['image'];
  }
}

/** Why `auto` passed the host's QEMU by, for the log; undefined when it did not. */
export function whyNotHost(binary: string, host: string | undefined, min: QemuVersion): string | undefined {
  if (host === undefined) return `this host has no ${binary}`;
  return versionAtLeast(host, min) ? undefined : `the host's ${binary} is ${host}, older than ${formatMin(min)}`;
}

/** The host binary's version (`--version`), once per binary and process; undefined when it cannot run. */
const hostVersions = new Map<string, Promise<string | undefined>>();

export function hostQemuVersion(binary: string): Promise<string | undefined> {
  let known = hostVersions.get(binary);
  if (!known) {
    known = new Promise((resolve) => {
      execFile(binary, ['--version'], { timeout: 10_000 }, (err, stdout) => resolve(err ? undefined : parseQemuVersion(stdout)));
    });
    hostVersions.set(binary, known);
  }
  return known;
}
