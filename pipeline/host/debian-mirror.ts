/**
 * The Debian mirror this host already uses, read from its apt configuration at run time.
 * No mirror's host name is ever written into the repository.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Environment variable that overrides the host's apt configuration. */
export const MIRROR_ENV = 'EDK2_MATRIX_DEBIAN_MIRROR';

interface AptSource {
  readonly uri: string;
  readonly suites: readonly string[];
  readonly types: readonly string[];
}

/** Parses deb822 `.sources` stanzas. */
export function parseDeb822Sources(text: string): AptSource[] {
  return text
    .split(/\n\s*\n/)
    .map((stanza) => {
      const fields = new Map<string, string>();
      let last = '';
      for (const line of stanza.split('\n')) {
        if (line.startsWith('#')) continue;
        const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
        if (m) fields.set((last = m[1]!.toLowerCase()), m[2]!.trim());
        else if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
      }
      const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
      if (fields.get('enabled')?.toLowerCase() === 'no') return [];
      return words('uris').map((uri) => ({ uri, suites: words('suites'), types: words('types') }));
    })
    .flat();
}

/** Parses one-line `deb [options] uri suite components` entries. */
export function parseOneLineSources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m) out.push({ types: [m[1]!], uri: m[2]!, suites: [m[3]!] });
  }
  return out;
}

/**
 * The first Debian archive mirror among `sources`: one that serves a plain Debian suite
 * (not `-security`, not a third-party repository).
 */
export function pickDebianMirror(sources: readonly AptSource[]): string | undefined {
  const debianSuite = /^(buster|bullseye|bookworm|trixie|forky|duke|sid|stable|testing|unstable|oldstable)(-updates|-backports)?$/;
  const hit = sources.find(
    (s) => /^https?:\/\//.test(s.uri) && s.suites.some((suite) => debianSuite.test(suite)) && !/security/.test(s.uri),
  );
  return hit?.uri.replace(/\/+$/, '');
}

/** The mirror from the environment or the host's apt configuration, or undefined. */
export function hostDebianMirror(aptDir = '/etc/apt'): string | undefined {
  const fromEnv = process.env[MIRROR_ENV];
  if (fromEnv) return fromEnv.replace(/\/+$/, '');
  const sources: AptSource[] = [];
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
  const dir = join(aptDir, 'sources.list.d');
  let files: string[] = [];
  try {
    files = readdirSync(dir).sort();
  } catch {
    // No sources.list.d: the one-line file may still exist.
  }
  for (const f of files) {
    const text = read(join(dir, f));
    if (text === undefined) continue;
    if (f.endsWith('.sources')) sources.push(...parseDeb822Sources(text));
    else if (f.endsWith('.list')) sources.push(...parseOneLineSources(text));
  }
  const main = read(join(aptDir, 'sources.list'));
  if (main) sources.push(...parseOneLineSources(main));
  return pickDebianMirror(sources);
}
