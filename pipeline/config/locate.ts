/**
 * Maps a path in the parsed document (`['matrix', 'arch', 2]`) back to file:line:col, so that
 * every configuration error points at the text the user wrote.
 */
import { isMap, isNode, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { SourcePosition } from '../errors.ts';

export type Path = readonly (string | number)[];

export interface Locator {
  readonly file: string;
  /** Position of the value at `path`, or of its nearest existing ancestor. */
  at(path: Path): SourcePosition;
  /** Position of the key (not the value) at `path`; used for unknown keys. */
  keyAt(path: Path): SourcePosition;
}

export function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export function makeLocator(file: string, doc: Document, lines: LineCounter): Locator {
  const position = (offset: number): SourcePosition => {
    const { line, col } = lines.linePos(offset);
    return { file, line, col };
  };
  const start = (node: unknown): number | undefined =>
    isNode(node) && node.range ? node.range[0] : undefined;

  /** The node at `path`, walking as far as the document allows. */
  const walk = (path: Path): { node: Node | undefined; keyNode: Node | undefined } => {
    let node: unknown = doc.contents;
    let keyNode: Node | undefined;
    for (const step of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === step);
        if (!pair) break;
        keyNode = isNode(pair.key) ? pair.key : undefined;
        node = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof step === 'number' && node.items[step] !== undefined) {
        keyNode = undefined;
        node = node.items[step];
      } else {
        break;
      }
    }
    return { node: isNode(node) ? node : undefined, keyNode };
  };

  return {
    file,
    at(path) {
      const { node } = walk(path);
      return position(start(node) ?? 0);
    },
    keyAt(path) {
      const { node, keyNode } = walk(path);
      return position(start(keyNode) ?? start(node) ?? 0);
    },
  };
}
