/**
 * The options `release verify` and `pull` share to require independent rebuilds
 * (release/require-rebuilds.ts): declared once, read into a policy once, with the same usage
 * errors (exit 2) in both commands.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { UsageError } from '../errors.ts';
import { keyIdHex, MinisignFormatError, parsePublicKey } from '../release/minisign.ts';
import type { HttpOptions } from '../release/release-reader.ts';
import type { Rebuilder, RebuildPolicy } from '../release/require-rebuilds.ts';
import type { OptionSpecs } from './options.ts';

export function rebuildOptions(section: string) {
  return {
    'rebuilt-by': {
      type: 'strings', arg: 'PUB', section,
      help: 'a rebuilder\'s minisign public key: trust its signed rebuild attestations;\nrepeatable',
    },
    rebuilds: {
      type: 'strings', arg: 'DIR|FILE|URL', section,
      help: 'where the rebuild attestations are: a file, a directory of *.intoto.json\nor a URL; repeatable (default: rebuild-<key id>.intoto.json in the release)',
    },
    'require-rebuilds': {
      type: 'count', arg: 'N', min: 0, section,
      help: 'refuse unless N distinct --rebuilt-by rebuilders rebuilt every asset\nbit for bit (default: 1 with --rebuilt-by)',
    },
    'allow-failed-rebuilds': { type: 'flag', section, help: 'a trusted rebuilder\'s FAILED is a warning, not a refusal' },
  } as const satisfies OptionSpecs;
}

export interface RebuildValues {
  readonly rebuiltBy: readonly string[];
  readonly rebuilds: readonly string[];
  readonly requireRebuilds: number | undefined;
  readonly allowFailedRebuilds: boolean;
}

/** The policy the options ask for, or undefined without --rebuilt-by; bad usage is a UsageError. */
export async function readRebuildPolicy(v: RebuildValues, usage: (message: string) => UsageError, http: HttpOptions): Promise<RebuildPolicy | undefined> {
  if (!v.rebuiltBy.length) {
    const stray = v.rebuilds.length ? '--rebuilds' : v.requireRebuilds ? '--require-rebuilds' : v.allowFailedRebuilds ? '--allow-failed-rebuilds' : undefined;
    if (stray) throw usage(`${stray} needs --rebuilt-by PUB: the public keys of the rebuilders you trust`);
    return undefined;
  }
  const rebuilders: Rebuilder[] = [];
  for (const file of v.rebuiltBy) {
    const text = await readFile(file, 'utf8').catch(() => { throw usage(`--rebuilt-by ${file}: cannot read it`); });
    let key;
    try {
      key = parsePublicKey(text);
    } catch (err) {
      if (err instanceof MinisignFormatError) throw usage(`--rebuilt-by ${file}: ${err.message}`);
      throw err;
    }
    if (!rebuilders.some((r) => r.key.keyId.equals(key.keyId))) rebuilders.push({ name: basename(file).replace(/\.pub$/, ''), key });
  }
  const require = v.requireRebuilds ?? 1;
  if (require > rebuilders.length) {
    throw usage(`--require-rebuilds ${require}: only ${rebuilders.length} rebuilder key(s) given with --rebuilt-by (${rebuilders.map((r) => keyIdHex(r.key.keyId)).join(', ')})`);
  }
  return { rebuilders, sources: v.rebuilds, require, allowFailed: v.allowFailedRebuilds, http };
}
