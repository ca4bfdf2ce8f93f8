/**
 * `--export-source DIR`: the tree the matrix builds today — its pinned source, verified, with
 * its patch series applied — written out as a git repository with one commit, for a developer
 * to change and build with `--source-dir DIR`. The same packed stream the source volume gets
 * (every entry checked), unpacked here; the patches applied with patch(1) as the builder does.
 * Written into a temporary sibling and renamed into place: a failure leaves no DIR behind.
 * The commit's author, committer and date are fixed, so one source always exports as one commit.
 */
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, rm, rmdir, symlink, utimes } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { extract } from 'tar-stream';
import type { Log, SourceSpec } from '../domain.ts';
import { SourceError } from '../errors.ts';
import { TEMP_PREFIX } from '../layout.ts';
import { EXTRA_PATCH_DIR, materializeSource } from './materialize.ts';
import { packTree } from './pack-tree.ts';

const run = promisify(execFile);

/** Whether `dir` may be exported into: absent, or an empty directory. */
export async function exportTargetProblem(dir: string): Promise<string | undefined> {
  try {
    const entries = await readdir(dir);
    return entries.length ? `${dir} exists and is not empty` : undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return code === 'ENOTDIR' ? `${dir} is a file` : `${dir}: ${code ?? (err as Error).message}`;
  }
}

/** Patch names of a quilt series file, in order (blank lines and comments skipped). */
export function seriesNames(text: string): string[] {
  return text.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n && !n.startsWith('#'));
}

/** Unpacks a checked tar stream into `dir`; returns the newest entry time (seconds). */
async function unpack(stream: NodeJS.ReadableStream, dir: string, log: Log): Promise<number> {
  const entries = extract();
  const feeding = pipeline(stream, entries);
  let newest = 0;
  for await (const entry of entries) {
    const h = entry.header;
    const target = resolve(dir, h.name);
    if (!target.startsWith(dir + sep)) throw new SourceError(`export: entry ${h.name} leads outside the tree`, 'the source is damaged or hostile: do not use it');
    newest = Math.max(newest, Math.floor((h.mtime?.getTime() ?? 0) / 1000));
    await mkdir(h.type === 'directory' ? target : dirname(target), { recursive: true });
    if (h.type === 'file' || h.type === 'contiguous-file') {
      await pipeline(entry, createWriteStream(target, { mode: (h.mode ?? 0o644) & 0o777 }));
      if (h.mtime) await utimes(target, h.mtime, h.mtime);
      continue;
    }
    if (h.type === 'symlink') await symlink(h.linkname ?? '', target);
    else if (h.type === 'link') await link(resolve(dir, h.linkname ?? ''), target);
    else if (h.type !== 'directory') log.warn(`export: left out ${h.name} (${h.type} entry)`);
    entry.resume();
  }
  await feeding;
  return newest;
}

async function applySeries(dir: string, series: string): Promise<void> {
  const at = dirname(join(dir, series));
  for (const name of seriesNames(await readFile(join(dir, series), 'utf8'))) {
    try {
      await run('patch', ['-p1', '--forward', '--batch', '--no-backup-if-mismatch', '-i', join(at, name)], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const e = err as { code?: string; stdout?: string; message: string };
      if (e.code === 'ENOENT') throw new SourceError('export: patch(1) is not installed on this host', 'install it (Debian: apt-get install patch)');
      throw new SourceError(`export: patch ${dirname(series)}/${name} does not apply: ${(e.stdout || e.message).trim().split('\n').pop()}`,
        'refresh the patch against this source version, or drop it from the series', { cause: err });
    }
  }
}

async function commitAll(dir: string, epoch: number): Promise<string> {
  const date = `@${epoch} +0000`;
  const env = { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
  const git = (...args: string[]) => run('git', [
    '-c', 'user.name=edk2-matrix', '-c', 'user.email=edk2-matrix@localhost', '-c', 'commit.gpgsign=false',
    '-c', 'core.hooksPath=/dev/null', '-c', 'core.autocrlf=false', '-C', dir, ...args,
  ], { env, maxBuffer: 64 * 1024 * 1024 });
  await git('init', '--quiet', '--initial-branch=main');
  // --force: the source's own .gitignore files must not leave any of its files out of the commit.
  await git('add', '--all', '--force');
  await git('commit', '--quiet', '--no-verify', '-m', 'edk2 source as edk2-matrix builds it (exported by npm run matrix -- --export-source)');
  return (await git('rev-parse', 'HEAD')).stdout.trim();
}

export interface Exported {
  readonly dir: string;
  readonly commit: string;
  readonly description: string;
}

export async function exportSource(spec: SourceSpec, dir: string, cacheDir: string, log: Log, signal: AbortSignal): Promise<Exported> {
  const target = resolve(dir);
  const problem = await exportTargetProblem(target);
  if (problem) throw new SourceError(`--export-source: ${problem}`, 'name a new or empty directory');
  const inputs = await materializeSource(spec, cacheDir, log, signal);
  await mkdir(dirname(target), { recursive: true });
  const temp = join(dirname(target), `${TEMP_PREFIX}${process.pid}-export-${basename(target)}`);
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp);
  try {
    log.info(`source ${inputs.description}: exporting into ${target}`);
    const packed = packTree(inputs.layers, inputs.extras, inputs.walkers, (entry, reason) => log.warn(`source: left out ${entry} (${reason})`));
    const [newest] = await Promise.all([unpack(packed.stream, temp, log), packed.done]);
    for (const series of inputs.series) await applySeries(temp, series);
    await rm(join(temp, dirname(EXTRA_PATCH_DIR)), { recursive: true, force: true });
    const commit = await commitAll(temp, newest);
    await rmdir(target).catch(() => {});
    await rename(temp, target);
    return { dir: target, commit, description: inputs.description };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}
