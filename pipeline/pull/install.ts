/**
 * Installs verified variants as one transaction. First everything new is written beside what
 * is live (an immutable store directory per variant and release, fsynced; descriptor texts
 * prepared); then the commit switches each variant's link, renames each descriptor into
 * place and writes the receipt — every step a rename. A failure or Ctrl-C at any point undoes
 * what was done, in reverse, so the destination is exactly as it was; what ran before keeps
 * working throughout. Under --destdir (a package build, not a live system) variants are plain
 * directories.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readlink, rename, rm, rmdir, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { RECEIPT_FORMAT, type ArtifactFile, type InstalledVariant, type Manifest, type Receipt } from '../domain.ts';
import { CancelledError, InstallError, MatrixError, ReleaseError } from '../errors.ts';
import { fileMode, MANIFEST_FILE, RECEIPT_FILE, STORE_DIR, TEMP_PREFIX } from '../layout.ts';
import { syncPath, writeFileSynced } from '../host/atomic-publish.ts';
import type { Log } from '../domain.ts';
import { readVariantArchive } from '../release/variant-archive.ts';
import type { VerifiedRelease } from '../release/verify-release.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';
import { exists } from '../host/exists.ts';
import { installedDescriptorName, rewriteDescriptor } from './installed-descriptor.ts';
import { readReceipt } from './receipt.ts';
import { sha256Hex } from '../checksums.ts';

export interface InstallRequest {
  readonly paths: InstallPaths;
  readonly release: VerifiedRelease;
  readonly location: string;
  /** Variant ids to install (all verified archives when undefined). */
  readonly ids: readonly string[];
  readonly prefer: boolean;
  readonly log: Log;
  readonly signal: AbortSignal;
}

const temp = (dir: string, label: string) => join(dir, `${TEMP_PREFIX}${process.pid}-${label}`);

/** Every undo step of the transaction so far; `rollback` runs them newest first. */
class Undo {
  readonly #steps: (() => Promise<void>)[] = [];
  push(step: () => Promise<void>): void {
    this.#steps.push(step);
  }
  async rollback(log: Log): Promise<void> {
    for (const step of this.#steps.reverse()) {
      await step().catch((err: unknown) => log.warn(`undoing a step of the install failed: ${(err as Error).message}`));
    }
  }
}

/** mkdir -p; returns the directories it made, outermost first, and undoes them when empty. */
async function makeDirs(dir: string, undo: Undo): Promise<string[]> {
  const made = await mkdir(dir, { recursive: true });
  if (!made) return [];
  const created: string[] = [];
  for (let d = dir; d.startsWith(made) && d.length >= made.length; d = dirname(d)) created.unshift(d);
  undo.push(async () => {
    for (const d of [...created].reverse()) await rmdir(d).catch(() => {});
  });
  return created;
}

/** Unpacks one verified archive into `dir`, every file fsynced and checked against the index. */
async function unpack(archive: string, id: string, want: readonly ArtifactFile[], dir: string, signal: AbortSignal): Promise<void> {
  const listed = new Map(want.map((f) => [f.path.slice(id.length + 1), f]));
  await mkdir(dir);
  await readVariantArchive(createReadStream(archive), id, want.reduce((n, f) => n + f.size, 0), async (entry) => {
    const expected = listed.get(entry.name);
    if (!expected) throw new ReleaseError(`${id}.tar.xz: ${entry.name}`, 'is not in the signed index');
    const fh = await open(join(dir, entry.name), 'wx', fileMode(entry.name));
    const h = createHash('sha256');
    try {
      await pipeline(entry.body, new Writable({
        write(chunk: Buffer, _enc, done) {
          if (signal.aborted) return done(new CancelledError());
          h.update(chunk);
          fh.write(chunk).then(() => done(), done);
        },
      }));
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (h.digest('hex') !== expected.sha256) throw new ReleaseError(`${id}.tar.xz: ${entry.name}`, 'changed since it was verified (the cached download was altered)');
    listed.delete(entry.name);
  });
  if (listed.size) throw new ReleaseError(`${id}.tar.xz`, `lacks ${[...listed.keys()][0]}`);
  await syncPath(dir);
}

interface Prepared {
  readonly entry: InstalledVariant;
  /** Store directory (live) or staging directory (package) on disk. */
  readonly staged: string;
  readonly stagedIsNew: boolean;
  /** Installed path (as recorded) → text, for the variant's own descriptor and each enrolled store's. */
  readonly descriptorTexts: ReadonlyMap<string, string>;
}

export async function installRelease(req: InstallRequest): Promise<Receipt> {
  const { paths, release, signal, log } = req;
  const disk = (p: string) => onDisk(paths, p);
  const previous = await readReceipt(paths);
  const undo = new Undo();
  const checkAbort = () => {
    if (signal.aborted) throw new CancelledError();
  };
  const cleanupAfter: string[] = [];
  try {
    const created = [
      ...await makeDirs(disk(paths.dataDir), undo),
      ...await makeDirs(disk(paths.descriptorDir), undo),
      ...(paths.live ? await makeDirs(disk(join(paths.dataDir, STORE_DIR)), undo) : []),
    ].map((d) => (paths.destdir ? d.slice(paths.destdir.length) : d));

    // 1. Stage: nothing live changes.
    const prepared: Prepared[] = [];
    for (const id of req.ids) {
      checkAbort();
      const variant = release.index.variants.find((v) => v.id === id)!;
      const archiveAsset = release.index.assets.find((a) => a.kind === 'archive' && a.variant === id)!;
      const storeName = `${id}-${archiveAsset.sha256.slice(0, 16)}`;
      const final = paths.live ? join(paths.dataDir, STORE_DIR, storeName) : join(paths.dataDir, id);
      const staged = paths.live ? final : join(paths.dataDir, `${TEMP_PREFIX}${process.pid}-${id}`);
      const old = previous.variants.find((v) => v.id === id);
      const reuse = paths.live && old?.storeDir === final && await exists(disk(final));
      if (!reuse) {
        const stageDir = temp(disk(paths.live ? join(paths.dataDir, STORE_DIR) : paths.dataDir), `stage-${id}`);
        undo.push(() => rm(stageDir, { recursive: true, force: true }));
        log.info(`${id}: unpacking ${archiveAsset.name}`);
        await unpack(release.archives.get(id)!, id, variant.files, stageDir, signal);
        if (await exists(disk(staged))) {
          if (!paths.live) throw new ReleaseError(`install ${disk(staged)}`, 'exists and is not ours');
          await rm(disk(staged), { recursive: true, force: true }); // an unreferenced leftover of an interrupted pull
        }
        await rename(stageDir, disk(staged));
        undo.push(() => rm(disk(staged), { recursive: true, force: true }));
      }
      const manifest = JSON.parse(await readFile(join(disk(staged), MANIFEST_FILE), 'utf8')) as Manifest;
      const dir = join(paths.dataDir, id);
      const descriptorTexts = new Map<string, string>();
      for (const d of [{ file: manifest.descriptor, vars: manifest.qemu.varsTemplate, name: id }, ...(manifest.enrolled ?? []).map((s) => ({ file: s.descriptor, vars: s.varsTemplate, name: `${id}-${s.keySet}` }))]) {
        const text = rewriteDescriptor(await readFile(join(disk(staged), d.file), 'utf8'), dir, { code: manifest.qemu.code, vars: d.vars }, `${id}.tar.xz`);
        descriptorTexts.set(join(paths.descriptorDir, installedDescriptorName(d.file, d.name, req.prefer)), text);
      }
      prepared.push({
        staged, stagedIsNew: !reuse, descriptorTexts,
        entry: {
          id, dir, storeDir: final,
          descriptors: [...descriptorTexts].map(([path, text]) => ({ path, sha256: sha256Hex(text) })),
          files: variant.files.map((f) => ({ ...f, path: f.path.slice(id.length + 1) })),
          release: { location: req.location, tag: release.index.release.tag, keyId: release.keyId, archiveSha256: archiveAsset.sha256, signedAt: release.signed?.signedAt },
        },
      });
    }

    // Refuse to replace what pull did not put there.
    for (const p of prepared) {
      const ours = previous.variants.find((v) => v.id === p.entry.id);
      if (await exists(disk(p.entry.dir)) && !ours) throw new ReleaseError(`install ${disk(p.entry.dir)}`, 'exists and was not installed by pull', 'move it away, or install with another --prefix');
      for (const d of p.entry.descriptors) {
        if (await exists(disk(d.path)) && !previous.variants.some((v) => v.descriptors.some((x) => x.path === d.path))) {
          throw new ReleaseError(`install ${disk(d.path)}`, 'exists and was not installed by pull', 'remove it, or install with another --prefix');
        }
      }
    }

    // 2. Commit: renames only, each undone on failure.
    for (const p of prepared) {
      checkAbort();
      const link = disk(p.entry.dir);
      const old = previous.variants.find((v) => v.id === p.entry.id);
      if (paths.live) {
        const before = await readlink(link).catch(() => undefined);
        const tmpLink = temp(disk(paths.dataDir), `link-${p.entry.id}`);
        await rm(tmpLink, { force: true });
        await symlink(join(STORE_DIR, p.staged.split('/').pop()!), tmpLink);
        await rename(tmpLink, link);
        undo.push(async () => {
          if (before === undefined) return void (await rm(link, { force: true }));
          await symlink(before, tmpLink);
          await rename(tmpLink, link);
        });
        if (old && old.storeDir !== p.entry.storeDir) cleanupAfter.push(disk(old.storeDir));
      } else {
        const aside = temp(disk(paths.dataDir), `old-${p.entry.id}`);
        const had = await exists(link);
        if (had) await rename(link, aside);
        await rename(disk(p.staged), link);
        undo.push(async () => {
          await rename(link, disk(p.staged));
          if (had) await rename(aside, link);
        });
        if (had) cleanupAfter.push(aside);
      }
      for (const [path, text] of p.descriptorTexts) {
        const descriptor = disk(path);
        const previousText = await readFile(descriptor).catch(() => undefined);
        const tmpDescriptor = temp(disk(paths.descriptorDir), `descriptor-${p.entry.id}`);
        await writeFileSynced(tmpDescriptor, text);
        undo.push(() => rm(tmpDescriptor, { force: true }));
        await rename(tmpDescriptor, descriptor);
        undo.push(async () => {
          if (previousText === undefined) await rm(descriptor, { force: true });
          else await writeFileSynced(descriptor, previousText);
        });
      }
      for (const d of old?.descriptors ?? []) if (!p.descriptorTexts.has(d.path)) cleanupAfter.push(disk(d.path));
    }
    checkAbort();
    const receipt: Receipt = {
      generator: 'edk2-matrix-pull',
      formatVersion: RECEIPT_FORMAT,
      variants: [...previous.variants.filter((v) => !req.ids.includes(v.id)), ...prepared.map((p) => p.entry)].sort((a, b) => (a.id < b.id ? -1 : 1)),
      directories: [...previous.directories, ...created.filter((d) => !previous.directories.includes(d))],
    };
    await writeReceiptFile(paths, receipt, undo);
    await syncPath(disk(paths.descriptorDir));
    await syncPath(disk(paths.dataDir));
    // Done: what the new install replaced can go. Failures here only leave unreferenced files.
    for (const p of cleanupAfter) await rm(p, { recursive: true, force: true }).catch(() => {});
    return receipt;
  } catch (err) {
    await undo.rollback(log);
    if (err instanceof MatrixError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new InstallError(disk(paths.dataDir), e.code ? `${e.code} (${e.syscall ?? 'write'} ${e.path ?? ''})`.replace(' )', ')') : e.message, { cause: err });
  }
}

async function writeReceiptFile(paths: InstallPaths, receipt: Receipt, undo: Undo): Promise<void> {
  const file = onDisk(paths, join(paths.dataDir, RECEIPT_FILE));
  const before = await readFile(file).catch(() => undefined);
  const tmp = temp(dirname(file), 'receipt');
  await writeFileSynced(tmp, `${JSON.stringify(receipt, null, 2)}\n`);
  await rename(tmp, file);
  undo.push(async () => {
    if (before === undefined) await rm(file, { force: true });
    else await writeFileSynced(file, before);
  });
}
