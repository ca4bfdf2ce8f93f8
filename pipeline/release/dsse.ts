/**
 * DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1): the JSON envelope
 * in-toto attestations travel in. The signature is Ed25519 over the pre-authentication
 * encoding PAE(payloadType, payload), never over the payload alone. Key ids are the minisign
 * key ids (16 hex digits, as minisign prints them). Pure.
 */
import { keyIdHex, signBytes, verifyBytes, type PublicKey, type SecretKey } from './minisign.ts';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface Envelope {
  readonly payloadType: string;
  /** Standard base64 of the payload bytes. */
  readonly payload: string;
  readonly signatures: readonly { readonly keyid: string; readonly sig: string }[];
}

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body; LEN is ASCII decimal of the byte length. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `, 'utf8'), type, Buffer.from(` ${payload.length} `, 'utf8'), payload]);
}

export function signEnvelope(key: SecretKey, payloadType: string, payload: Buffer): Envelope {
  return {
    payloadType,
    payload: payload.toString('base64'),
    signatures: [{ keyid: keyIdHex(key.keyId), sig: signBytes(key, pae(payloadType, payload)).toString('base64') }],
  };
}

/** The shape of an envelope, or a sentence saying what is wrong with it. */
export function asEnvelope(value: unknown): Envelope | string {
  const e = value as Partial<Envelope> | null;
  if (typeof e !== 'object' || e === null) return 'is not a JSON object';
  if (typeof e.payloadType !== 'string' || typeof e.payload !== 'string') return 'is not a DSSE envelope (no payloadType or payload)';
  if (!Array.isArray(e.signatures) || !e.signatures.every((s) => typeof s?.keyid === 'string' && typeof s?.sig === 'string')) return 'is not a DSSE envelope (no signatures)';
  return e as Envelope;
}

export function envelopePayload(e: Envelope): Buffer {
  return Buffer.from(e.payload, 'base64');
}

/** The first of `keys` that made one of the envelope's signatures, or undefined. */
export function envelopeSigner<K extends PublicKey>(e: Envelope, keys: readonly K[]): K | undefined {
  const signed = pae(e.payloadType, envelopePayload(e));
  for (const s of e.signatures) {
    const key = keys.find((k) => keyIdHex(k.keyId) === s.keyid);
    if (key && verifyBytes(key, signed, Buffer.from(s.sig, 'base64'))) return key;
  }
  return undefined;
}
