/**
 * A small matrix the in-memory engine (fake-engine.ts) can run: two x86 variants, an archive
 * source with their DSCs, a builder context with a lock; and an engine whose containers behave
 * as the real ones do.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { parseConfig } from '../../pipeline/config/load.ts';
import type { MatrixConfig } from '../../pipeline/domain.ts';
import type { ContainerSpec } from '../../pipeline/engine/engine.ts';
import { FakeEngine, type Behaviour } from './fake-engine.ts';
import { tempDir } from './temp-dir.ts';

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const tar = pack();
  for (const [name, text] of Object.entries(files)) tar.entry({ name, mtime: new Date(1_700_000_000_000) }, text);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const c of tar as AsyncIterable<Buffer>) chunks.push(c);
  return gzipSync(Buffer.concat(chunks));
}

/** A matrix of two x86 variants, an archive source with their DSCs, a builder context with a lock. */
export async function matrixFixture(): Promise<{ config: MatrixConfig; file: string; out: string; cache: string }> {
  const dir = tempDir('orch-');
  const archive = await tarGz({
    'edk2/OvmfPkg/OvmfPkgX64.dsc': '[Defines]\n  DEFINE SECURE_BOOT_ENABLE = FALSE\n',
    'edk2/OvmfPkg/OvmfPkgIa32.dsc': '[Defines]\n  DEFINE SECURE_BOOT_ENABLE = FALSE\n',
  });
  writeFileSync(join(dir, 'edk2.tar.gz'), archive);
  mkdirSync(join(dir, 'builder'));
  writeFileSync(join(dir, 'builder', 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(join(dir, 'builder', 'packages'), 'nasm\n');
  writeFileSync(join(dir, 'builder', 'packages.lock'), 'nasm=1\n');
  const text = `version: 1
source:
  archive: { url: edk2.tar.gz, sha256: ${createHash('sha256').update(archive).digest('hex')}, strip: 1 }
builder: { dockerfile: builder, mirror: "http://archive.invalid/debian" }
architectures:
  X64: { dsc: OvmfPkg/OvmfPkgX64.dsc }
  IA32: { dsc: OvmfPkg/OvmfPkgIa32.dsc }
matrix:
  arch: [X64, IA32]
  target: [DEBUG]
`;
  writeFileSync(join(dir, 'matrix.yaml'), text);
  return { config: parseConfig(text, join(dir, 'matrix.yaml')), file: join(dir, 'matrix.yaml'), out: join(dir, 'artifacts'), cache: join(dir, 'cache') };
}

/** Containers behave as the real ones do, with `build` changing how builds go. */
export function builderEngine(build: (variant: string) => Partial<Behaviour> = () => ({})): FakeEngine {
  const e: FakeEngine = new FakeEngine((spec: ContainerSpec): Behaviour => {
    switch (spec.cmd[0]) {
      case 'dpkg-query': return { output: ['nasm=1'] };
      case 'cat': return { output: [e.readyKeys.get(spec.mounts![0]!.volume) ?? ''] };
      case 'edk2-build-variant': return {
        output: ['Processing meta-data ... done!', 'Fd File Name:OVMF', '- Done -'],
        files: (path) => (/\.fd$/.test(path) ? Buffer.from(`firmware ${path}`) : undefined),
        ms: 5,
        ...build(spec.labels['edk2-matrix.variant']!),
      };
      default: return {};
    }
  }, ['debian:trixie']);
  return e;
}
