/**
 * The inputs a release carries so that anyone can build it again from the release alone
 * (`npm run rebuild`): the matrix it was assembled with, and every file that matrix names —
 * the builder's context (Dockerfile, scripts, packages.lock), extra patches and Secure Boot
 * certificates — with the matrix rewritten to name them where they are written back.
 * What the source is (package, version, digests, a git commit) is in the matrix itself; the
 * source is fetched again by its digests, never carried.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { sha256Hex } from '../checksums.ts';
import { loadConfig } from '../config/load.ts';
import type { InputFile, Log, MatrixConfig, ReleaseInputs } from '../domain.ts';
import { ReleaseError } from '../errors.ts';
import { readContext } from '../image/build-context.ts';
import { TEMP_PREFIX } from '../layout.ts';
import { planRun } from '../run.ts';

/** File name of the carried matrix when written back. */
export const INPUTS_MATRIX = 'matrix.yaml';
/** A carried file's path: below builder/, patches/ or keysets/, plain components only. */
const INPUT_PATH = /^(builder|patches|keysets)(\/[A-Za-z0-9_][A-Za-z0-9._+-]*)+$/;

const fileOf = (path: string, data: Buffer, executable = false): InputFile =>
  ({ path, executable, sha256: sha256Hex(data), data: data.toString('base64') });

/** Every certificate file a `keysets:` entry names, as the document holds its scalars. */
function certScalars(doc: Document): { node: { value: unknown }; value: string }[] {
  const found: { node: { value: unknown }; value: string }[] = [];
  const keysets = doc.get('keysets');
  if (!isMap(keysets)) return found;
  for (const set of keysets.items) {
    if (!isMap(set.value)) continue;
    for (const slot of set.value.items) {
      const certs = isSeq(slot.value) ? slot.value.items : [slot.value];
      for (const cert of certs) {
        const file = isMap(cert) ? cert.get('file', true) : undefined;
        if (isScalar(file) && typeof file.value === 'string') found.push({ node: file, value: file.value });
      }
    }
  }
  return found;
}

/** The matrix with its files, ready to be recorded in a release's index. */
export async function collectInputs(config: MatrixConfig): Promise<ReleaseInputs> {
  const doc = parseDocument(await readFile(config.file, 'utf8'));
  const files: InputFile[] = [];
  for (const f of readContext(config.builder.context)) files.push(fileOf(`builder/${f.path.split(sep).join('/')}`, f.data, f.executable));
  doc.setIn(['builder', 'dockerfile'], 'builder');
  if (config.source.patches.length) {
    const names = config.source.patches.map((p, i) => `patches/${i + 1}/${basename(p)}`);
    for (const [i, p] of config.source.patches.entries()) files.push(fileOf(names[i]!, await readFile(p)));
    doc.setIn(['source', 'patches'], names);
  }
  const seen = new Set<string>();
  for (const cert of certScalars(doc)) {
    const data = await readFile(resolve(dirname(config.file), cert.value));
    const path = `keysets/${sha256Hex(data)}.pem`;
    cert.node.value = path;
    if (!seen.has(path)) files.push(fileOf(path, data));
    seen.add(path);
  }
  return { matrix: doc.toString(), files: files.sort((a, b) => (a.path < b.path ? -1 : 1)) };
}

/**
 * Writes carried inputs below `dir` and returns the matrix's path. Refuses a path that is not
 * one of ours or a file whose bytes are not what the release says: the release was signed, so
 * either is a release this version cannot read.
 */
export async function writeInputs(inputs: ReleaseInputs, dir: string): Promise<string> {
  for (const f of inputs.files) {
    if (!INPUT_PATH.test(f.path) || f.path.split('/').includes('..')) {
      throw new ReleaseError('index.json', `carries an input file named ${JSON.stringify(f.path)}, which is not below builder/, patches/ or keysets/`);
    }
    const data = Buffer.from(f.data, 'base64');
    if (sha256Hex(data) !== f.sha256) throw new ReleaseError('index.json', `carries input ${f.path} whose bytes do not match its sha256`);
    const path = join(dir, f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data);
    await chmod(path, f.executable ? 0o755 : 0o644);
  }
  const matrix = join(dir, INPUTS_MATRIX);
  await writeFile(matrix, inputs.matrix);
  return matrix;
}

export interface PlannedInputs {
  /** The carried matrix, loaded from where `writeInputs` put it. */
  readonly config: MatrixConfig;
  /** Content key of every variant it declares, by id. */
  readonly keys: ReadonlyMap<string, string>;
}

/**
 * Writes the inputs below `dir`, loads the matrix and plans every variant it declares: the keys
 * this edk2-matrix gives them. Equal to a release's keys, they prove the release was built from
 * exactly these inputs by a pipeline that plans as this one does.
 */
export async function planInputs(inputs: ReleaseInputs, dir: string, cacheDir: string, log: Log, signal: AbortSignal): Promise<PlannedInputs> {
  const config = loadConfig(await writeInputs(inputs, dir));
  const { plans } = await planRun(config, config.variants, 1, cacheDir, log, signal);
  return { config, keys: new Map(plans.map((p) => [p.variant.id, p.key])) };
}

/** The inputs of `config` and the keys they plan, read back as a rebuilder will read them. */
export async function carryInputs(config: MatrixConfig, cacheDir: string, log: Log, signal: AbortSignal): Promise<{ carried: ReleaseInputs; keys: ReadonlyMap<string, string> }> {
  const carried = await collectInputs(config);
  const dir = await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}inputs-`));
  try {
    return { carried, keys: (await planInputs(carried, dir, cacheDir, log, signal)).keys };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
