/**
 * The files of a secure-boot variant's enrolled stores: for each key set, its variable store
 * (copied out of the build and padded like the empty one), its QEMU firmware descriptor
 * (`enrolled-keys`, priority 40) and its launch script; and a record of every certificate
 * each store holds (variable, owner, subject, SHA-256 fingerprint) for the manifest.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { EnrolledCert, EnrolledCertRecord, EnrolledStore, KeySet, Variant } from '../domain.ts';
import type { Container } from '../engine/engine.ts';
import { ExportError } from '../errors.ts';
import { enrolledLaunchScript, enrolledVarsName } from '../layout.ts';
import { readContainerFile } from './copy-out.ts';
import { enrolledDescriptor, enrolledDescriptorFileName } from './firmware-descriptor.ts';
import { descriptorJson } from './qemu-firmware-schema.ts';
import type { NamedData } from './manifest.ts';

async function certRecord(container: Container, variant: Variant, variable: EnrolledCertRecord['variable'], cert: EnrolledCert): Promise<EnrolledCertRecord> {
  const pem = cert.source.kind === 'file' ? await readFile(cert.source.path) : await readContainerFile(container, cert.source.path);
  if (!pem) throw new ExportError(variant.id, `the builder image has no ${cert.source.path}`, 'the builder lock should pin python3-virt-firmware');
  const x = new X509Certificate(pem);
  return { variable, owner: cert.owner, subject: x.subject.replaceAll('\n', ', '), sha256: x.fingerprint256.replaceAll(':', '').toLowerCase() };
}

export interface EnrolledFiles {
  /** Stores and descriptors; the caller renders the launch scripts (see launchFacts). */
  readonly files: NamedData[];
  readonly stores: EnrolledStore[];
}

export async function collectEnrolled(
  container: Container,
  variant: Variant,
  installPrefix: string,
  copyVars: (builtName: string, publishedName: string) => Promise<NamedData>,
): Promise<EnrolledFiles> {
  const files: NamedData[] = [];
  const stores: EnrolledStore[] = [];
  for (const set of variant.keySets) {
    const vars = await copyVars(enrolledVarsName(variant.platform.vars.built, set.name), enrolledVarsName(variant.platform.vars.published, set.name));
    const descriptor = { name: enrolledDescriptorFileName(variant, set.name), data: Buffer.from(descriptorJson(enrolledDescriptor(variant, installPrefix, set.name))) };
    files.push(vars, descriptor);
    stores.push({ keySet: set.name, varsTemplate: vars.name, descriptor: descriptor.name, launch: enrolledLaunchScript(set.name), certificates: await certificates(container, variant, set) });
  }
  return { files, stores };
}

async function certificates(container: Container, variant: Variant, set: KeySet): Promise<EnrolledCertRecord[]> {
  return [
    await certRecord(container, variant, 'PK', set.pk),
    ...(await Promise.all(set.kek.map((c) => certRecord(container, variant, 'KEK', c)))),
    ...(await Promise.all(set.db.map((c) => certRecord(container, variant, 'db', c)))),
  ];
}
