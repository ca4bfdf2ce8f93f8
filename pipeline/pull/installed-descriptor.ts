/**
 * A variant's QEMU firmware descriptor as installed: its file names rewritten to where the
 * files now are, checked against QEMU's firmware.json schema, under a name whose number decides
 * whether libvirt prefers it. Distributions number theirs 40 (enrolled keys), 50 (secure boot)
 * and 60; by default ours go 30 higher (80, 90), so they never silently take over domains that
 * did not ask for them; `--prefer` puts them 30 lower (20, 30), ahead of the distribution's.
 */
import { ReleaseError } from '../errors.ts';
import { descriptorJson, firmwareDescriptorSchema } from '../plan/qemu-firmware-schema.ts';

export const PRIORITY_SHIFT = 30;

export function installedDescriptorName(published: string, id: string, prefer: boolean): string {
  const m = /^(\d+)-/.exec(published);
  const base = m ? Number(m[1]) : 60;
  const priority = prefer ? Math.max(1, base - PRIORITY_SHIFT) : Math.min(99, base + PRIORITY_SHIFT);
  return `${String(priority).padStart(2, '0')}-edk2-matrix-${id}.json`;
}

export function rewriteDescriptor(text: string, dir: string, files: { code: string; vars: string }, origin: string): string {
  let parsed;
  try {
    parsed = firmwareDescriptorSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new ReleaseError(origin, `its QEMU firmware descriptor is not valid: ${(err as Error).message.split('\n')[0]}`);
  }
  if (parsed.mapping.device !== 'flash') throw new ReleaseError(origin, `its descriptor maps a ${parsed.mapping.device}, not flash`);
  const mapping = {
    ...parsed.mapping,
    executable: { ...parsed.mapping.executable, filename: `${dir}/${files.code}` },
    ...(parsed.mapping['nvram-template'] ? { 'nvram-template': { ...parsed.mapping['nvram-template'], filename: `${dir}/${files.vars}` } } : {}),
  };
  // Never install what QEMU's schema would refuse.
  const installed = firmwareDescriptorSchema.parse({ ...parsed, mapping });
  return descriptorJson(installed);
}
