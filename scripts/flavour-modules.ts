/**
 * Which edk2 modules differ between two firmware images (read from their firmware volumes):
 * how scripts/debian-autopkgtest-proof.sh shows that Debian's two secure-boot flavours differ
 * where Debian says they do (docs/downstream.md). Prints the module names, one per line, or
 * nothing when the images are byte-identical.
 *
 * Usage: node --import tsx scripts/flavour-modules.ts IMAGE_A IMAGE_B
 */
import { readFile } from 'node:fs/promises';
import { differingModules } from '../pipeline/rebuild/firmware-volumes.ts';

const [a, b, ...rest] = process.argv.slice(2);
if (!a || !b || rest.length) {
  process.stderr.write('usage: node --import tsx scripts/flavour-modules.ts IMAGE_A IMAGE_B\n');
  process.exit(2);
}
const [imageA, imageB] = await Promise.all([readFile(a), readFile(b)]);
if (!imageA.equals(imageB)) for (const name of await differingModules(imageA, imageB)) process.stdout.write(`${name}\n`);
