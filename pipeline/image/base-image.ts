/**
 * The builder's base image: the engine's own copy, a registry pull, or, when no registry can be
 * reached (as on an offline host), a Debian root filesystem bootstrapped from the host's own
 * Debian mirror with mmdebstrap and imported. The run says which. A registry that answers with
 * a refusal (authentication, unknown image, rate limit) stops the run with its words and a hint.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { BuilderSpec } from '../domain.ts';
import type { RunScope } from '../engine/run-scope.ts';
import { ImageError } from '../errors.ts';
import type { AptArchive } from './apt-archive.ts';
import { classifyPullFailure } from './registry-answer.ts';
import type { Log } from '../domain.ts';

/** Fixed so that mmdebstrap's output depends on the archive only, not on the clock. */
const BOOTSTRAP_EPOCH = '1735689600';

/** Name a bootstrapped copy of `base` is imported under: never the official name; a snapshot's carries its date. */
export function bootstrappedRef(base: string, snapshot?: string): string {
  const ref = `edk2-matrix/${base.replace(/^.*\//, '')}`;
  return snapshot ? `${ref}-${snapshot}` : ref;
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 300);

export interface BaseImage {
  readonly ref: string;
  readonly id: string;
}

/**
 * With a snapshot, the base is always bootstrapped from that snapshot (a registry's
 * `debian:trixie` is of today, not of that date).
 */
export async function ensureBaseImage(scope: RunScope, spec: BuilderSpec, archive: AptArchive, log: Log, signal: AbortSignal): Promise<BaseImage> {
  const engine = scope.engine;
  const candidates = spec.snapshot ? [bootstrappedRef(spec.base, spec.snapshot)] : [spec.base, bootstrappedRef(spec.base)];
  for (const ref of candidates) {
    const id = await engine.imageId(ref);
    if (id) return { ref, id };
  }
  let why = `snapshot ${spec.snapshot}`;
  if (!spec.snapshot) {
    log.info(`base image ${spec.base}: not in the engine, trying a registry pull`);
    const attempt = await engine.tryPull(spec.base, signal);
    if (attempt.pulled) {
      const id = await engine.imageId(spec.base);
      if (!id) throw new ImageError(`base image ${spec.base}: pulled, but the engine has no such image`, 'run again; if it persists, pull it by hand (docker pull) to see why');
      return { ref: spec.base, id };
    }
    const failure = classifyPullFailure(attempt.reason);
    if (failure.kind === 'refused') throw new ImageError(`base image ${spec.base}: the registry refused the pull: ${oneLine(attempt.reason)}`, failure.hint);
    why = `no registry reachable (${oneLine(attempt.reason)})`;
  }
  const ref = bootstrappedRef(spec.base, spec.snapshot);
  log.info(`base image ${spec.base}: ${why}; bootstrapping Debian ${spec.suite} from ${archive.url} with mmdebstrap as ${ref}`);
  const rootfs = bootstrapRootfs(spec.suite, archive.sourcesLine, signal);
  // When mmdebstrap fails the import fails too; its reason is the one worth showing. When the
  // import fails by itself, the rest of mmdebstrap's output is drained so that it can finish.
  const [id] = await Promise.all([
    engine.importRootfs(rootfs.tar, ref).catch(async (err: unknown) => {
      rootfs.tar.resume();
      await rootfs.done;
      throw err;
    }),
    rootfs.done,
  ]);
  // An archive without a whole suite lets mmdebstrap finish with an empty system: refuse it here,
  // not as a missing /bin/sh in the middle of the image build.
  const probe = await scope.capture({ image: id, cmd: ['dpkg-query', '-W', 'dpkg', 'apt'], network: 'none', hardened: true }, 'probe').catch((err: unknown) => ({ exitCode: -1, output: String(err) }));
  if (probe.exitCode !== 0) {
    await engine.removeImage(id).catch(() => {});
    throw new ImageError(`bootstrapping Debian ${spec.suite} from ${archive.url} gave no usable system (no dpkg and apt in it)`,
      'check that the archive serves the whole suite (builder.mirror, builder.snapshot)');
  }
  log.info(`base image ${ref}: imported (${id.slice(7, 19)})`);
  return { ref, id };
}

/** A minbase root filesystem as a tar stream; fails with mmdebstrap's own last words. */
function bootstrapRootfs(suite: string, sourcesLine: string, signal: AbortSignal): { tar: Readable; done: Promise<void> } {
  const argv = ['--variant=minbase', '--format=tar', '--quiet', suite, '-', sourcesLine];
  const child = spawn('mmdebstrap', argv, {
    env: { ...process.env, SOURCE_DATE_EPOCH: BOOTSTRAP_EPOCH },
    stdio: ['ignore', 'pipe', 'pipe'],
    signal,
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(new ImageError(
        err.code === 'ENOENT' ? 'mmdebstrap is not installed: it is needed to bootstrap the base image offline' : `mmdebstrap failed to start: ${err.message}`,
        'run `sudo scripts/setup-host.sh`, or install mmdebstrap',
      )));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const last = stderr.trim().split('\n').slice(-3).join(' | ');
        reject(new ImageError(`mmdebstrap ${suite} from "${sourcesLine}" failed (exit ${code}): ${last}`, 'check that the archive serves this suite; bootstrapping needs root'));
      }
    });
  });
  return { tar: child.stdout, done };
}
