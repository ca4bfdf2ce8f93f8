/**
 * The documentation lives in the repository and stays whole: every relative link of README.md
 * and docs/*.md leads to a file that exists (and to a heading of it, when the link names one),
 * and nothing in the repository points at documents outside it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');

/** README.md and every page of docs/. */
function pages(): string[] {
  const docs = join(REPO, 'docs');
  return [join(REPO, 'README.md'), ...readdirSync(docs).filter((n) => n.endsWith('.md')).map((n) => join(docs, n))];
}

/** Markdown without its fenced code blocks, where `#` starts no heading. */
function withoutFences(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** Markdown without code, where brackets are not links. */
function prose(text: string): string {
  return withoutFences(text).replace(/`[^`\n]*`/g, '');
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, blanks to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of withoutFences(text).matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const slug = heading!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Every link target of a page that is not a URL. */
function relativeLinks(text: string): string[] {
  return [...prose(text).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)]
    .map((m) => m[1]!)
    .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

/** What is wrong with one link of `page`, or undefined when it leads somewhere real. */
function brokenLink(page: string, target: string): string | undefined {
  const [path, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = path === '' ? page : resolve(dirname(page), decodeURIComponent(path));
  if (!existsSync(file)) return 'no such file';
  if (anchor === undefined || !file.endsWith('.md')) return undefined;
  return anchors(readFileSync(file, 'utf8')).has(anchor.toLowerCase()) ? undefined : `no heading #${anchor}`;
}

/** Tracked files and new ones git does not ignore (no node_modules, no build output). */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  return out.split('\0').filter((f) => f !== '' && existsSync(join(REPO, f)) && lstatSync(join(REPO, f)).isFile());
}

describe('documentation', () => {
  it('has every relative link of README.md and docs/ lead to an existing file and heading', () => {
    const broken = pages().flatMap((page) => relativeLinks(readFileSync(page, 'utf8'))
      .map((target) => ({ target, why: brokenLink(page, target) }))
      .filter((l) => l.why !== undefined)
      .map((l) => `${relative(REPO, page)}: ${l.target}: ${l.why}`));
    expect(broken).toEqual([]);
  });

  it('sees the links and headings it checks (the patterns are not silently matching nothing)', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    expect(relativeLinks(readme)).toContain('docs/architecture.md');
    expect(anchors('## What `npm test` proves\n# A, b & c\n```\n# not a heading\n```\n## A, b & c\n'))
      .toEqual(new Set(['what-npm-test-proves', 'a-b--c', 'a-b--c-1']));
    expect(brokenLink(join(REPO, 'README.md'), 'docs/architecture.md#no-such-heading')).toBe('no heading #no-such-heading');
    expect(brokenLink(join(REPO, 'README.md'), 'docs/no-such-page.md')).toBe('no such file');
  });

  it('names no document outside the repository, nor the design notes that used to live there', () => {
    // Spelled in pieces so that this file does not name them itself.
    const outside = ['..', 'shared'].join('/');
    const design = ['DESIGN', 'md'].join('.');
    const files = repositoryFiles();
    expect(files).toContain('README.md');
    const naming = files.filter((f) => {
      const bytes = readFileSync(join(REPO, f));
      if (bytes.includes(0)) return false;
      const text = bytes.toString('utf8');
      return text.includes(outside) || text.includes(design);
    });
    expect(naming).toEqual([]);
  });
});
