/**
 * The edk2 meta-files (DSC, FDF, their includes) and patches of a verified source, and its
 * newest file time, read on this host without unpacking anything to disk: what the define
 * check and reproducible builds need, before any container starts.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { isMetaFile } from './dsc-scan.ts';
import { isComponentFile } from './bundled-components.ts';
import type { SourceInputs } from './materialize.ts';
import { safeEntries } from './pack-tree.ts';
import { gitHeadTime } from './tree-files.ts';

async function fromCheckout(root: string, files: Map<string, string>, paths: string[]): Promise<void> {
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
      if (entry.name === '.git') continue;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        paths.push(path);
        if (isMetaFile(path) || isComponentFile(path)) files.set(path, await readFile(join(root, path), 'utf8'));
      }
    }
  };
  await walk('');
}

export interface ScannedSource {
  /** Meta-files, patches and the files the component scan reads, by path in the tree. */
  readonly files: Map<string, string>;
  /** Every regular file's path. */
  readonly paths: string[];
  /** Newest modification time (seconds) in the archives, or the commit time of a checkout. */
  readonly epoch: number;
}

export async function scanSource(inputs: SourceInputs): Promise<ScannedSource> {
  const files = new Map<string, string>();
  const paths: string[] = [];
  let epoch = 0;
  for (const layer of inputs.layers) {
    for await (const e of safeEntries(layer, () => {})) {
      epoch = Math.max(epoch, Math.floor(e.header.mtime.getTime() / 1000));
      if (e.header.type !== 'file') continue;
      paths.push(e.name);
      if (!isMetaFile(e.name) && !isComponentFile(e.name)) continue;
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(c as Buffer);
      files.set(e.name, Buffer.concat(chunks).toString('utf8'));
    }
  }
  if (inputs.checkout) {
    await fromCheckout(inputs.checkout, files, paths);
    const { stdout } = await promisify(execFile)('git', ['-C', inputs.checkout, 'log', '-1', '--format=%ct']);
    epoch = Math.max(epoch, Number(stdout.trim()));
  }
  if (inputs.tree) {
    const tree = inputs.tree;
    for (const f of tree.files) {
      if (f.type !== 'file') continue;
      paths.push(f.path);
      if (isMetaFile(f.path) || isComponentFile(f.path)) files.set(f.path, await readFile(join(tree.root, f.path), 'utf8'));
    }
    // The commit's date (edits do not move it); outside git, the newest file's.
    epoch = Math.max(epoch, tree.commit ? await gitHeadTime(tree.root) : Math.floor(Math.max(0, ...tree.files.map((f) => f.mtimeMs)) / 1000));
  }
  for (const extra of inputs.extras) files.set(extra.name, extra.data.toString('utf8'));
  return { files, paths, epoch };
}
