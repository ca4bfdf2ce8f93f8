/**
 * The edk2 meta-files (DSC, FDF, their includes) and patches of a verified source, read on
 * this host without unpacking anything to disk: what the define check needs, before any
 * container starts.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMetaFile } from './dsc-scan.ts';
import type { SourceInputs } from './materialize.ts';
import { safeEntries } from './pack-tree.ts';

async function fromCheckout(root: string, files: Map<string, string>): Promise<void> {
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
      if (entry.name === '.git') continue;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && isMetaFile(path)) files.set(path, await readFile(join(root, path), 'utf8'));
    }
  };
  await walk('');
}

export async function collectMetaFiles(inputs: SourceInputs): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const layer of inputs.layers) {
    for await (const e of safeEntries(layer, () => {})) {
      if (e.header.type !== 'file' || !isMetaFile(e.name)) continue;
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(c as Buffer);
      files.set(e.name, Buffer.concat(chunks).toString('utf8'));
    }
  }
  if (inputs.checkout) await fromCheckout(inputs.checkout, files);
  for (const extra of inputs.extras) files.set(extra.name, extra.data.toString('utf8'));
  return files;
}
