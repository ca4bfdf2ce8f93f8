/**
 * Installs verified variants as one transaction. First everything new is written beside what
 * is live (an immutable store directory per variant and release, fsynced; descriptor texts
 * prepared); then the commit switches each variant's link, renames each descriptor into
 * place and writes the receipt — every step a rename, the receipt's the last. A journal
 * (install-journal.ts), written before the first change, says how to undo each step: a
 * failure or Ctrl-C undoes what was done, so the destination is exactly as it was, and a
 * SIGKILL at any point is repaired by the next pull. What ran before keeps working throughout.
 * Under --destdir (a package build, not a live system) variants are plain directories.
 * The caller holds the destination's lock (destination-lock.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readlink, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { RECEIPT_FORMAT, type ArtifactFile, type InstalledVariant, type Manifest, type Receipt } from '../domain.ts';
import { CancelledError, ReleaseError } from '../errors.ts';
import { fileMode, MANIFEST_FILE, STORE_DIR, TEMP_PREFIX } from '../layout.ts';
import { publishFile, syncPath } from '../host/atomic-publish.ts';
import type { Log } from '../domain.ts';
import { readVariantArchive } from '../release/variant-archive.ts';
import type { VerifiedRelease } from '../release/verify-release.ts';
import { onDisk, type InstallPaths } from './install-paths.ts';
import { exists } from '../host/exists.ts';
import { installedDescriptorName, rewriteDescriptor } from './installed-descriptor.ts';
import { pointLink, writeJournal } from './install-journal.ts';
import { readReceipt, receiptText, recordedLocation } from './receipt.ts';
import { beginJournal, commitReceipt, refuseInterrupted, stagingJournal, undoInstall } from './transaction.ts';
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
  /** Directories made for the destination before (by its lock), as recorded, outermost first. */
  readonly made?: readonly string[];
  /**
   * Called between the steps of the transaction, by name. Tests simulate a crash at a step with
   * a promise that never settles: nothing after it runs, as after a SIGKILL.
   */
  readonly step?: (name: string) => Promise<void>;
}

const temp = (dir: string, label: string) => join(dir, `${TEMP_PREFIX}${process.pid}-${label}`);

/** Unpacks one verified archive into `dir`, every file fsynced and checked against the index. */
export async function unpack(archive: string, id: string, want: readonly ArtifactFile[], dir: string, signal: AbortSignal): Promise<void> {
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
  /** Store directory (live) or staging directory (package), as recorded. */
  readonly staged: string;
  /** Installed path (as recorded) → text, for the variant's own descriptor and each enrolled store's. */
  readonly descriptorTexts: ReadonlyMap<string, string>;
}

export async function installRelease(req: InstallRequest): Promise<Receipt> {
  const { paths, release, signal, log } = req;
  const disk = (p: string) => onDisk(paths, p);
  const step = req.step ?? (() => Promise.resolve());
  const previous = await readReceipt(paths);
  await refuseInterrupted(paths);
  const checkAbort = () => {
    if (signal.aborted) throw new CancelledError();
  };
  const dirs = [paths.dataDir, paths.descriptorDir, ...(paths.live ? [join(paths.dataDir, STORE_DIR)] : [])].map(disk);
  let journal = await stagingJournal(paths, dirs, req.made);
  const created = journal.created;
  try {
    // 0. The journal, before anything else changes.
    await beginJournal(paths, journal, step);
    for (const d of dirs) await mkdir(d, { recursive: true });

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
      if (old?.layout === 'debian') throw new ReleaseError(`install ${id}`, 'is installed here in Debian\'s layout', 'uninstall it first, or pull with --layout debian');
      const reuse = paths.live && old?.storeDir === final && await exists(disk(final));
      if (!reuse) {
        const stageDir = temp(disk(paths.live ? join(paths.dataDir, STORE_DIR) : paths.dataDir), `stage-${id}`);
        log.info(`${id}: unpacking ${archiveAsset.name}`);
        await unpack(release.archives.get(id)!, id, variant.files, stageDir, signal);
        await step(`unpacked ${id}`);
        if (await exists(disk(staged))) {
          if (!paths.live) throw new ReleaseError(`install ${disk(staged)}`, 'exists and is not ours');
          await rm(disk(staged), { recursive: true, force: true }); // an unreferenced leftover of an interrupted pull
        }
        await rename(stageDir, disk(staged));
        await step(`staged ${id}`);
      }
      const manifest = JSON.parse(await readFile(join(disk(staged), MANIFEST_FILE), 'utf8')) as Manifest;
      const dir = join(paths.dataDir, id);
      const descriptorTexts = new Map<string, string>();
      for (const d of [{ file: manifest.descriptor, vars: manifest.qemu.varsTemplate, name: id }, ...(manifest.enrolled ?? []).map((s) => ({ file: s.descriptor, vars: s.varsTemplate, name: `${id}-${s.keySet}` }))]) {
        const text = rewriteDescriptor(await readFile(join(disk(staged), d.file), 'utf8'), dir, { code: manifest.qemu.code, vars: d.vars }, `${id}.tar.xz`);
        descriptorTexts.set(join(paths.descriptorDir, installedDescriptorName(d.file, d.name, req.prefer)), text);
      }
      prepared.push({
        staged, descriptorTexts,
        entry: {
          id, dir, storeDir: final,
          descriptors: [...descriptorTexts].map(([path, text]) => ({ path, sha256: sha256Hex(text) })),
          files: variant.files.map((f) => ({ ...f, path: f.path.slice(id.length + 1) })),
          release: { location: recordedLocation(paths, req.location), tag: release.index.release.tag, keyId: release.keyId, archiveSha256: archiveAsset.sha256, signedAt: release.signed?.signedAt },
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

    // 2. Commit: first the journal of every change, then renames only, the receipt's last.
    const receipt: Receipt = {
      generator: 'edk2-matrix-pull',
      formatVersion: RECEIPT_FORMAT,
      variants: [...previous.variants.filter((v) => !req.ids.includes(v.id)), ...prepared.map((p) => p.entry)].sort((a, b) => (a.id < b.id ? -1 : 1)),
      directories: [...previous.directories, ...created.filter((d) => !previous.directories.includes(d))],
    };
    const text = receiptText(receipt);
    const remove: string[] = [];
    for (const p of prepared) {
      const old = previous.variants.find((v) => v.id === p.entry.id);
      if (paths.live && old && old.storeDir !== p.entry.storeDir) remove.push(old.storeDir);
      for (const d of old?.descriptors ?? []) if (!p.descriptorTexts.has(d.path)) remove.push(d.path);
    }
    const moves = paths.live ? [] : await Promise.all(prepared.map(async (p) => {
      const aside = join(paths.dataDir, `${TEMP_PREFIX}${process.pid}-old-${p.entry.id}`);
      return { dir: p.entry.dir, staged: p.staged, aside, had: await exists(disk(p.entry.dir)) };
    }));
    remove.push(...moves.filter((m) => m.had).map((m) => m.aside));
    journal = {
      ...journal, phase: 'commit', receiptSha256: sha256Hex(text), remove, moves,
      links: paths.live ? await Promise.all(prepared.map(async (p) => ({
        dir: p.entry.dir, target: join(STORE_DIR, p.entry.storeDir.split('/').pop()!), before: await readlink(disk(p.entry.dir)).catch(() => null),
      }))) : [],
      descriptors: await Promise.all(prepared.flatMap((p) => [...p.descriptorTexts.keys()]).map(async (path) => ({ path, before: await readFile(disk(path), 'utf8').catch(() => null) }))),
    };
    checkAbort();
    await writeJournal(paths, journal);
    await step('journal commit');
    for (const l of journal.links ?? []) {
      await pointLink(disk(l.dir), l.target);
      await step(`linked ${l.dir}`);
    }
    for (const m of moves) {
      if (m.had) await rename(disk(m.dir), disk(m.aside));
      await rename(disk(m.staged), disk(m.dir));
      await step(`moved ${m.dir}`);
    }
    for (const p of prepared) {
      checkAbort();
      for (const [path, descriptor] of p.descriptorTexts) {
        await publishFile(disk(path), descriptor);
        await step(`descriptor ${path}`);
      }
    }
    await syncPath(disk(paths.descriptorDir));
    checkAbort();
    await commitReceipt(paths, journal, text, log, step);
    return receipt;
  } catch (err) {
    return undoInstall(paths, journal, err, log);
  }
}
