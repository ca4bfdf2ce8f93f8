/**
 * What each enrolled store of a secure-boot variant holds, for the manifest: for each of the
 * recipe's enrolments, every certificate (variable, owner, subject, SHA-256 fingerprint), read
 * from the repository's file or from the builder image the build ran in. The stores themselves
 * are outputs of the recipe, their descriptors and launch scripts rendered files of it.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { EnrolledCertRecord, EnrolledStore, Recipe, RecipeCert } from '../domain.ts';
import type { Container } from '../engine/engine.ts';
import { ExportError } from '../errors.ts';
import { readContainerFile } from './copy-out.ts';

async function certRecord(container: Container, recipe: Recipe, files: ReadonlyMap<string, string>, cert: RecipeCert): Promise<EnrolledCertRecord> {
  const pem = cert.source.kind === 'file' ? await readFile(files.get(cert.source.sha256)!) : await readContainerFile(container, cert.source.path);
  if (!pem) throw new ExportError(recipe.id, `the builder image has no ${cert.path}`, 'the builder lock should pin python3-virt-firmware');
  const x = new X509Certificate(pem);
  return { variable: cert.variable, owner: cert.owner, subject: x.subject.replaceAll('\n', ', '), sha256: x.fingerprint256.replaceAll(':', '').toLowerCase() };
}

/** `files`: where the recipe's `file` certificates are on this machine (certificateFiles of plan/recipe.ts). */
export async function enrolledStores(container: Container, recipe: Recipe, files: ReadonlyMap<string, string>): Promise<EnrolledStore[]> {
  const stores: EnrolledStore[] = [];
  for (const e of recipe.enrolments) {
    stores.push({
      keySet: e.keySet, varsTemplate: e.varsTemplate, descriptor: e.descriptor, launch: e.launch,
      certificates: await Promise.all(e.certificates.map((c) => certRecord(container, recipe, files, c))),
    });
  }
  return stores;
}
