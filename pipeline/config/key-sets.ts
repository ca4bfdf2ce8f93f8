/**
 * Secure Boot key sets a secure-boot variant can have enrolled into extra variable stores:
 * - `microsoft`: what Windows 11 guests and distributions booting through shim need. PK is
 *   edk2-matrix's own certificate (keys/secureboot/edk2-matrix-pk.pem; its private key was
 *   never kept, so nobody can change the store's keys: replace the store instead), also in KEK
 *   as distributions do; KEK = Microsoft Corporation KEK CA 2011 and KEK 2K CA 2023; db =
 *   Microsoft Windows Production PCA 2011, Microsoft Corporation UEFI CA 2011, Windows UEFI CA
 *   2023, Microsoft UEFI CA 2023. The Microsoft certificates are those Debian's
 *   python3-virt-firmware carries, at the version packages.lock pins.
 * - `snakeoil`: keys/secureboot/snakeoil.pem as PK, KEK and db; its private key is published
 *   beside it on purpose, so that anyone can sign a test binary and see it run. Never trust it.
 * - your own, under `keysets:` in matrix.yaml: PEM files, each pinned by sha256.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sha256Hex } from '../checksums.ts';
import type { EnrolledCert, KeySet } from '../domain.ts';

/** Microsoft's signature owner GUID, as Microsoft and distributions enroll its certificates. */
export const MICROSOFT_OWNER = '77fa9abd-0359-4d32-bd60-28f4e78f784b';
/** The owner GUID of edk2-matrix's own PK/KEK certificate. */
export const EDK2_MATRIX_OWNER = '0e6b6f5c-7d9f-4a49-9d52-5f3b2b7e1a01';
/** The owner GUID of the snakeoil test key. */
export const SNAKEOIL_OWNER = '6b1b1c52-3c0e-4f0b-8f6e-7a6c1e0d5a02';
/** The owner GUID of certificates from a matrix's own key sets. */
export const CUSTOM_OWNER = '4f1d6b8e-2a5c-4e1f-b7d3-9c0a8e6f3b03';

const KEYS = fileURLToPath(new URL('../../keys/secureboot/', import.meta.url));

/** Certificates of this repository, pinned so that an edit is noticed. */
export const REPO_CERTS = {
  pk: { path: `${KEYS}edk2-matrix-pk.pem`, sha256: '3a16bd6f87d948a6e057b1d7366f379bc6dce2a95e29af267b2c6adbade84de1' },
  snakeoil: { path: `${KEYS}snakeoil.pem`, sha256: '1f1124954f292fef359d5fefcbf0b594d5efaa22931b0e97ce394e645eb57140' },
} as const;
export const SNAKEOIL_KEY = `${KEYS}snakeoil.key`;

/** Where python3-virt-firmware keeps the certificates it carries, in the builder image. */
export const VIRT_FIRMWARE_CERTS = '/usr/lib/python3/dist-packages/virt/firmware/certs';

const repo = (c: { path: string; sha256: string }, owner: string): EnrolledCert => ({ source: { kind: 'file', ...c }, owner });
const image = (name: string): EnrolledCert => ({ source: { kind: 'image', path: `${VIRT_FIRMWARE_CERTS}/${name}` }, owner: MICROSOFT_OWNER });

export const BUILTIN_KEY_SETS: Readonly<Record<string, KeySet>> = {
  microsoft: {
    name: 'microsoft',
    pk: repo(REPO_CERTS.pk, EDK2_MATRIX_OWNER),
    kek: [repo(REPO_CERTS.pk, EDK2_MATRIX_OWNER), image('MicrosoftCorporationKEKCA2011.pem'), image('MicrosoftCorporationKEK2KCA2023.pem')],
    db: [
      image('MicrosoftWindowsProductionPCA2011.pem'), image('MicrosoftCorporationUEFICA2011.pem'),
      image('WindowsUEFICA2023.pem'), image('MicrosoftUEFICA2023.pem'),
    ],
  },
  snakeoil: {
    name: 'snakeoil',
    pk: repo(REPO_CERTS.snakeoil, SNAKEOIL_OWNER),
    kek: [repo(REPO_CERTS.snakeoil, SNAKEOIL_OWNER)],
    db: [repo(REPO_CERTS.snakeoil, SNAKEOIL_OWNER)],
  },
};

/**
 * The first of the set's own certificate files (not the image's) that is missing or no longer
 * matches its pin, said in a few words; undefined when all match.
 */
export function pinMismatch(set: KeySet): string | undefined {
  for (const c of [set.pk, ...set.kek, ...set.db]) {
    if (c.source.kind !== 'file') continue;
    if (!existsSync(c.source.path)) return `${c.source.path} is missing`;
    const got = sha256Hex(readFileSync(c.source.path));
    if (got !== c.source.sha256) return `${c.source.path} has sha256 ${got}, not the pinned ${c.source.sha256}`;
  }
  return undefined;
}
