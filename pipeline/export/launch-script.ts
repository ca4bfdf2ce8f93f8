/** `launch.sh`: the manifest's argv as a runnable script, arguments appended. */
import type { Manifest } from '../domain.ts';
import { CODE_PLACEHOLDER, VARS_PLACEHOLDER } from './qemu-launch.ts';

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** One argv element as shell words: literal text single-quoted, placeholders as variables. */
function shellWord(arg: string): string {
  return arg
    .split(/(\$\{CODE\}|\$\{VARS\})/)
    .filter((part) => part !== '')
    .map((part) => (part === CODE_PLACEHOLDER ? '"$code"' : part === VARS_PLACEHOLDER ? '"$vars"' : quote(part)))
    .join('');
}

export function launchScript(m: Manifest): string {
  const [binary, ...rest] = m.qemu.argv;
  return `#!/bin/sh
# Boots ${m.id} (${m.arch} ${m.target}${m.features.length ? `, ${m.features.join(' + ')}` : ''}) in QEMU.
# Arguments are appended to QEMU's command line: disks, display, network...
# The UEFI variable store is a copy of the template, kept at $EDK2_MATRIX_VARS
# (default ./${m.id}-VARS.fd) so that settings persist between boots.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
vars_file=\${EDK2_MATRIX_VARS:-./${m.id}-VARS.fd}
if [ ! -e "$vars_file" ]; then
  cp "$here/${m.qemu.varsTemplate}" "$vars_file"
  echo "launch.sh: created $vars_file from ${m.qemu.varsTemplate}" >&2
fi
# QEMU options separate fields with commas: double any in the paths.
code=$(printf '%s' "$here/${m.qemu.code}" | sed 's/,/,,/g')
vars=$(printf '%s' "$vars_file" | sed 's/,/,,/g')
exec ${quote(binary!)} \\
${rest.map((a) => `  ${shellWord(a)}`).join(' \\\n')} \\
  "$@"
`;
}
