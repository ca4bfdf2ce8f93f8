/** `launch.sh`: the manifest's argv as a runnable script, arguments appended. */
import type { Arch, QemuLaunch, Target } from '../domain.ts';
import { CODE_PLACEHOLDER, VARS_PLACEHOLDER } from './qemu-launch.ts';

/** What launch.sh is rendered from: the variant and how QEMU boots it. */
export interface LaunchFacts {
  readonly id: string;
  readonly arch: Arch;
  readonly target: Target;
  readonly features: readonly string[];
  readonly qemu: QemuLaunch;
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** One argv element as shell words: literal text single-quoted, placeholders as variables. */
function shellWord(arg: string): string {
  return arg
    .split(/(\$\{CODE\}|\$\{VARS\})/)
    .filter((part) => part !== '')
    .map((part) => (part === CODE_PLACEHOLDER ? '"$code"' : part === VARS_PLACEHOLDER ? '"$vars"' : quote(part)))
    .join('');
}

/** The script for the variant's empty store, or (with `keySet`) for one of its enrolled stores. */
export function launchScript(m: LaunchFacts, keySet?: { name: string; varsTemplate: string }): string {
  const [binary, ...rest] = m.qemu.argv;
  const template = keySet?.varsTemplate ?? m.qemu.varsTemplate;
  const copy = `./${m.id}${keySet ? `-${keySet.name}` : ''}-VARS.fd`;
  return `#!/bin/sh
# Boots ${m.id} (${m.arch} ${m.target}${m.features.length ? `, ${m.features.join(' + ')}` : ''})${keySet ? ` with the ${keySet.name} keys enrolled` : ''} in QEMU.
# Arguments are appended to QEMU's command line: disks, display, network...
# The UEFI variable store is a copy of the template, kept at $EDK2_MATRIX_VARS
# (default ${copy}) so that settings persist between boots.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
vars_file=\${EDK2_MATRIX_VARS:-${copy}}
if [ ! -e "$vars_file" ]; then
  cp "$here/${template}" "$vars_file"
  echo "$(basename "$0"): created $vars_file from ${template}" >&2
fi
# QEMU options separate fields with commas: double any in the paths.
code=$(printf '%s' "$here/${m.qemu.code}" | sed 's/,/,,/g')
vars=$(printf '%s' "$vars_file" | sed 's/,/,,/g')
exec ${quote(binary!)} \\
${rest.map((a) => `  ${shellWord(a)}`).join(' \\\n')} \\
  "$@"
`;
}
