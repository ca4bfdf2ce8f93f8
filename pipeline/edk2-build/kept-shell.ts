/**
 * `--shell ID`: the container a kept workspace is entered in. The same mounts, user, network
 * and hardening as the build (run-build.ts), and the same preparation the builder's wrapper
 * makes before edk2's `build` (dockerfiles/builder/bin/edk2-build-variant: workspace variables,
 * edksetup.sh sourced, the compiler cache), done here in the shell's own command so that the
 * builder image (and every content key) stays as it is. Then an interactive bash in /work,
 * where `rebuild` runs the exact command the build ran.
 */
import type { KeptWorkspace } from '../domain.ts';
import type { ContainerSpec } from '../engine/engine.ts';
import { buildCommandLine, WORKSPACE } from '../plan/build-command.ts';
import { SOURCE_MOUNT } from '../source/prepare.ts';
import { CCACHE_MOUNT } from './run-build.ts';

/**
 * The shell's setup, run by `bash -c` with edk2's build arguments as its own ("$@"; set aside
 * before edksetup.sh is sourced, which would take them for its own): nothing of the
 * configuration is pasted into it. It mirrors edk2-build-variant; then it writes an rc file (in
 * the /tmp tmpfs) defining `rebuild` with those arguments quoted by bash, and starts bash.
 */
const SETUP = `
args=("$@")
set --
export WORKSPACE=${WORKSPACE} PACKAGES_PATH=${SOURCE_MOUNT} EDK_TOOLS_PATH=${SOURCE_MOUNT}/BaseTools CONF_PATH=${WORKSPACE}/Conf
export PYTHONDONTWRITEBYTECODE=1 HOME=/tmp HISTFILE=/tmp/.bash_history
mkdir -p "$CONF_PATH"
cd ${SOURCE_MOUNT}
. ./edksetup.sh >/dev/null
export PYTHONHASHSEED=0
if [ "\${EDK2_MATRIX_CCACHE:-0}" = 1 ] && [ -w ${CCACHE_MOUNT} ]; then
  export PATH="/usr/lib/ccache:$PATH" CCACHE_DIR=${CCACHE_MOUNT} CCACHE_COMPILERCHECK=content CCACHE_MAXSIZE=\${CCACHE_MAXSIZE:-8G} \\
    CCACHE_DEPEND=1 CCACHE_TEMPDIR=/tmp/ccache-tmp
fi
rc=/tmp/.edk2-matrix-shellrc
{
  printf 'rebuild() { build'
  printf ' %q' "\${args[@]}"
  printf ' "$@"; }\\n'
  cat <<'RC'
PS1='(\${EDK2_MATRIX_VARIANT}) \\w\\$ '
RC
} >"$rc"
cd ${WORKSPACE}
exec bash --rcfile "$rc" -i
`;

/** Name bash gives the setup script ($0). */
const SCRIPT_NAME = 'edk2-matrix-shell';

export interface ShellChoices {
  /** The image to run: the one the build ran in, or the builder of the same tag when that is gone. */
  readonly image: string;
  /** Whether the compiler cache volume is still there to mount. */
  readonly ccache: boolean;
  /** TERM of the user's terminal. */
  readonly term: string;
}

/** The shell container for `kept` (labels are the caller's). */
export function shellSpec(kept: KeptWorkspace, choices: ShellChoices): Omit<ContainerSpec, 'labels'> {
  const ccache = choices.ccache && kept.ccacheVolume !== undefined;
  return {
    image: choices.image,
    cmd: ['bash', '-c', SETUP, SCRIPT_NAME, ...kept.args],
    env: { ...kept.env, EDK2_MATRIX_CCACHE: ccache ? '1' : '0', EDK2_MATRIX_VARIANT: kept.variantId, TERM: choices.term },
    user: 'builder',
    workingDir: WORKSPACE,
    mounts: [
      { volume: kept.sourceVolume, target: SOURCE_MOUNT, readOnly: true },
      { volume: kept.volume, target: WORKSPACE, readOnly: false },
      ...(ccache ? [{ volume: kept.ccacheVolume!, target: CCACHE_MOUNT, readOnly: false }] : []),
    ],
    tmpfs: { '/tmp': 'rw,exec,size=2g' },
    network: 'none',
    hardened: true,
  };
}

/** What is printed before the prompt: the build as it ran, and how to run it again. */
export function shellBanner(kept: KeptWorkspace, notes: readonly string[]): string {
  return [
    `kept workspace of ${kept.variantId} (run ${kept.runId}, key ${kept.key.slice(0, 16)}), image ${kept.image.id.slice(7, 19) || kept.image.id}`,
    ...notes,
    `the build ran, in ${WORKSPACE}, with edksetup.sh sourced:`,
    `  ${buildCommandLine(kept.env, kept.args)}`,
    '`rebuild` runs it again (extra arguments are added); `exit` leaves. The workspace stays until `npm run matrix -- --clean`.',
    '',
  ].join('\n');
}
