/**
 * minisign keys and signatures (https://jedisct1.github.io/minisign/), in Node: Ed25519 from
 * `node:crypto`, BLAKE2b from @noble/hashes. Signatures are minisign's default, prehashed
 * (`ED`: Ed25519 over BLAKE2b-512 of the file), with a signed trusted comment; `minisign -V`
 * verifies what we sign and we verify what minisign signs. Pure: no files are read here.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scryptSync, sign, verify, type KeyObject } from 'node:crypto';
import { blake2b } from '@noble/hashes/blake2.js';

/** A key or signature that cannot be parsed, or does not belong together. */
export class MinisignFormatError extends Error {}

export interface PublicKey {
  /** 8 bytes, as stored (little-endian); shown in hex the way minisign shows it. */
  readonly keyId: Buffer;
  readonly key: Buffer;
}

export interface SecretKey extends PublicKey {
  /** libsodium's 64-byte secret key: seed then public key. */
  readonly secret: Buffer;
}

export interface Signature {
  readonly algorithm: 'ED' | 'Ed';
  readonly keyId: Buffer;
  readonly signature: Buffer;
  readonly untrustedComment: string;
  readonly trustedComment: string;
  readonly globalSignature: Buffer;
}

const UNTRUSTED = 'untrusted comment: ';
const TRUSTED = 'trusted comment: ';

/** minisign prints key ids as 16 hex digits, most significant byte first. */
export function keyIdHex(keyId: Buffer): string {
  return Buffer.from(keyId).reverse().toString('hex').toUpperCase();
}

function lines(text: string, what: string, count: number): string[] {
  const l = text.replace(/\r\n/g, '\n').split('\n').filter((x, i, all) => x !== '' || i < all.length - 1);
  if (l.length < count) throw new MinisignFormatError(`${what}: expected ${count} lines, found ${l.length}`);
  return l;
}

function base64Exact(text: string, bytes: number, what: string): Buffer {
  const clean = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(clean)) throw new MinisignFormatError(`${what} is not base64`);
  const data = Buffer.from(clean, 'base64');
  if (data.length !== bytes) throw new MinisignFormatError(`${what} is ${data.length} bytes, expected ${bytes}`);
  return data;
}

// ─── public keys ──────────────────────────────────────────────────────────────────────────

/** The base64 line alone (as `minisign -P` takes it) or the whole .pub file. */
export function parsePublicKey(text: string): PublicKey {
  const all = text.trim().split(/\r?\n/);
  const line = all.length === 1 ? all[0]! : all.find((l) => !l.startsWith(UNTRUSTED) && l.trim() !== '');
  if (!line) throw new MinisignFormatError('public key: no key line');
  const data = base64Exact(line, 42, 'public key');
  if (data.subarray(0, 2).toString('latin1') !== 'Ed') throw new MinisignFormatError('public key: not an Ed25519 minisign key');
  return { keyId: data.subarray(2, 10), key: data.subarray(10, 42) };
}

export function publicKeyLine(k: PublicKey): string {
  return Buffer.concat([Buffer.from('Ed', 'latin1'), k.keyId, k.key]).toString('base64');
}

export function formatPublicKey(k: PublicKey): string {
  return `${UNTRUSTED}minisign public key ${keyIdHex(k.keyId)}\n${publicKeyLine(k)}\n`;
}

// ─── secret keys ──────────────────────────────────────────────────────────────────────────

const KDF_NONE = Buffer.alloc(2);
const KDF_SCRYPT = 'Sc';

/** BLAKE2b-256 over algorithm, key id and secret key: how minisign notices a wrong password. */
function keyChecksum(keyId: Buffer, secret: Buffer): Buffer {
  return Buffer.from(blake2b(Buffer.concat([Buffer.from('Ed', 'latin1'), keyId, secret]), { dkLen: 32 }));
}

/**
 * libsodium's crypto_pwhash_scryptsalsa208sha256 parameters (pickparams) from minisign's
 * stored opslimit and memlimit: r = 8, and N, p chosen to fit both.
 */
export function scryptParams(opslimit: number, memlimit: number): { N: number; r: number; p: number } {
  const ops = Math.max(opslimit, 32768);
  const r = 8;
  const smallestAbove = (maxN: number) => {
    let log = 1;
    while (log < 63 && 2 ** log <= Math.floor(maxN / 2)) log += 1;
    return 2 ** log;
  };
  if (ops < Math.floor(memlimit / 32)) return { N: smallestAbove(Math.floor(ops / (r * 4))), r, p: 1 };
  const N = smallestAbove(Math.floor(memlimit / (r * 128)));
  const maxrp = Math.min(0x3fffffff, Math.floor(Math.floor(ops / 4) / N));
  return { N, r, p: Math.floor(maxrp / r) };
}

/** An unencrypted key file as `minisign -G -W` writes it, or an encrypted one with its password. */
export function parseSecretKey(text: string, password?: string): SecretKey {
  const [, line] = lines(text, 'secret key', 2);
  const data = base64Exact(line!, 158, 'secret key');
  if (data.subarray(0, 2).toString('latin1') !== 'Ed') throw new MinisignFormatError('secret key: not an Ed25519 minisign key');
  const kdf = data.subarray(2, 4);
  if (data.subarray(4, 6).toString('latin1') !== 'B2') throw new MinisignFormatError('secret key: unknown checksum algorithm');
  const salt = data.subarray(6, 38);
  const opslimit = Number(data.readBigUInt64LE(38));
  const memlimit = Number(data.readBigUInt64LE(46));
  let keyBlock = Buffer.from(data.subarray(54, 158));
  if (kdf.toString('latin1') === KDF_SCRYPT) {
    if (password === undefined) throw new MinisignFormatError('secret key is encrypted: give its password (EDK2_MATRIX_RELEASE_KEY_PASSWORD)');
    const { N, r, p } = scryptParams(opslimit, memlimit);
    const stream = scryptSync(password, salt, keyBlock.length, { N, r, p, maxmem: 128 * r * (N + p + 2) });
    keyBlock = Buffer.from(keyBlock.map((b, i) => b ^ stream[i]!));
  } else if (!kdf.equals(KDF_NONE)) {
    throw new MinisignFormatError('secret key: unknown key derivation algorithm');
  }
  const keyId = keyBlock.subarray(0, 8);
  const secret = keyBlock.subarray(8, 72);
  const checksum = keyBlock.subarray(72, 104);
  // `minisign -G -W` leaves the checksum of an unencrypted key zero.
  const unchecked = kdf.equals(KDF_NONE) && checksum.every((x) => x === 0);
  if (!unchecked && !keyChecksum(keyId, secret).equals(checksum)) {
    throw new MinisignFormatError(kdf.toString('latin1') === KDF_SCRYPT ? 'secret key: wrong password' : 'secret key: checksum does not match (damaged key)');
  }
  return { keyId, secret, key: secret.subarray(32, 64) };
}

/** The key file `minisign -G -W` (no password) would write for this key. */
export function formatSecretKey(k: SecretKey): string {
  const block = Buffer.concat([k.keyId, k.secret, keyChecksum(k.keyId, k.secret)]);
  const data = Buffer.concat([Buffer.from('Ed', 'latin1'), KDF_NONE, Buffer.from('B2', 'latin1'), Buffer.alloc(32), Buffer.alloc(16), block]);
  return `${UNTRUSTED}minisign secret key (unencrypted: keep this file secret)\n${data.toString('base64')}\n`;
}

export function generateKey(): SecretKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d!, 'base64url');
  const key = Buffer.from(jwk.x!, 'base64url');
  return { keyId: randomBytes(8), secret: Buffer.concat([seed, key]), key };
}

function privateKeyObject(k: SecretKey): KeyObject {
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: k.secret.subarray(0, 32).toString('base64url'), x: k.key.toString('base64url') },
    format: 'jwk',
  });
}

function publicKeyObject(k: PublicKey): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(k.key).toString('base64url') }, format: 'jwk' });
}

// ─── signatures ───────────────────────────────────────────────────────────────────────────

const prehash = (message: Buffer): Buffer => Buffer.from(blake2b(message, { dkLen: 64 }));

/** A prehashed signature of `message`; Ed25519 is deterministic, so same inputs, same bytes. */
export function signMessage(k: SecretKey, message: Buffer, trustedComment: string, untrustedComment = 'signature from minisign secret key'): string {
  if (/[\r\n]/.test(trustedComment) || /[\r\n]/.test(untrustedComment)) throw new MinisignFormatError('comments must be one line');
  const priv = privateKeyObject(k);
  const signature = sign(null, prehash(message), priv);
  const global = sign(null, Buffer.concat([signature, Buffer.from(trustedComment, 'utf8')]), priv);
  const line = Buffer.concat([Buffer.from('ED', 'latin1'), k.keyId, signature]).toString('base64');
  return `${UNTRUSTED}${untrustedComment}\n${line}\n${TRUSTED}${trustedComment}\n${global.toString('base64')}\n`;
}

export function parseSignature(text: string): Signature {
  const [untrusted, line, trusted, global] = lines(text, 'signature', 4);
  if (!untrusted!.startsWith(UNTRUSTED)) throw new MinisignFormatError('signature: first line is not an untrusted comment');
  if (!trusted!.startsWith(TRUSTED)) throw new MinisignFormatError('signature: third line is not a trusted comment');
  const data = base64Exact(line!, 74, 'signature');
  const algorithm = data.subarray(0, 2).toString('latin1');
  if (algorithm !== 'ED' && algorithm !== 'Ed') throw new MinisignFormatError(`signature: unknown algorithm "${algorithm}"`);
  return {
    algorithm,
    keyId: data.subarray(2, 10),
    signature: data.subarray(10, 74),
    untrustedComment: untrusted!.slice(UNTRUSTED.length),
    trustedComment: trusted!.slice(TRUSTED.length),
    globalSignature: base64Exact(global!, 64, 'global signature'),
  };
}

/** A plain Ed25519 signature of `data` (no prehash): what DSSE envelopes carry. */
export function signBytes(k: SecretKey, data: Buffer): Buffer {
  return sign(null, data, privateKeyObject(k));
}

export function verifyBytes(k: PublicKey, data: Buffer, signature: Buffer): boolean {
  return signature.length === 64 && verify(null, data, publicKeyObject(k), signature);
}

/** Why `sig` does not verify `message` with `k`, or undefined when it does. */
export function signatureProblem(k: PublicKey, sig: Signature, message: Buffer): string | undefined {
  if (!Buffer.from(sig.keyId).equals(k.keyId)) {
    return `made with key ${keyIdHex(sig.keyId)}, not with the trusted key ${keyIdHex(k.keyId)}`;
  }
  const pub = publicKeyObject(k);
  const signed = sig.algorithm === 'ED' ? prehash(message) : message;
  if (!verify(null, signed, pub, sig.signature)) return 'the signature does not match the file';
  if (!verify(null, Buffer.concat([sig.signature, Buffer.from(sig.trustedComment, 'utf8')]), pub, sig.globalSignature)) {
    return 'the trusted comment was altered';
  }
  return undefined;
}
