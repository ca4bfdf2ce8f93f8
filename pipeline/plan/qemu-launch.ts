/**
 * The QEMU command line that boots a variant: pflash code read-only, a writable copy of the
 * vars template, headless with the serial console on stdio. Users append their own disks and
 * display options (e.g. `-device virtio-gpu-pci -display gtk`).
 */
import { isSmm } from '../config/variant-facts.ts';
import type { QemuLaunch, Variant } from '../domain.ts';
import { archFacts } from '../platforms.ts';

export const CODE_PLACEHOLDER = '${CODE}';
export const VARS_PLACEHOLDER = '${VARS}';

export function qemuLaunch(variant: Variant, code: string, varsTemplate: string): QemuLaunch {
  const q = variant.platform.qemu;
  const smm = isSmm(variant);
  const argv = [
    q.binary,
    '-machine', `${q.machine},pflash0=code,pflash1=vars${smm ? ',smm=on' : ''}`,
    ...(q.cpu ? ['-cpu', q.cpu] : []),
    '-m', String(q.memoryMiB),
    '-blockdev', `node-name=code,driver=file,filename=${CODE_PLACEHOLDER},read-only=on`,
    '-blockdev', `node-name=vars,driver=file,filename=${VARS_PLACEHOLDER}`,
    // With SMM the vars flash must only be writable from SMM, or secure boot is not secure.
    ...(smm ? ['-global', 'driver=cfi.pflash01,property=secure,value=on'] : []),
    '-nodefaults', '-display', 'none', '-serial', 'stdio',
  ];
  const facts = archFacts(variant.arch);
  return { binary: q.binary, code, varsTemplate, argv, removableBootFile: facts.removableBootFile, kvmHostArch: facts.kvmHostArch };
}

/** argv with the placeholders filled; commas in paths are doubled, as QEMU options need. */
export function fillArgv(argv: readonly string[], codePath: string, varsPath: string): string[] {
  const esc = (p: string) => p.replaceAll(',', ',,');
  return argv.map((a) => a.replaceAll(CODE_PLACEHOLDER, esc(codePath)).replaceAll(VARS_PLACEHOLDER, esc(varsPath)));
}
