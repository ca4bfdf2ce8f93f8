/**
 * Our minisign against the real thing: the fixtures in test/fixtures/minisign/ were written by
 * minisign 0.11 (Debian's package): keys (one encrypted, password in password.txt), a message,
 * and signatures prehashed and legacy.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  formatPublicKey, formatSecretKey, generateKey, keyIdHex, parsePublicKey, parseSecretKey, parseSignature, signatureProblem, signMessage,
} from '../../pipeline/release/minisign.ts';
import { REPO } from '../helpers/config.ts';

const fixture = (name: string) => readFileSync(`${REPO}test/fixtures/minisign/${name}`, 'utf8');
const message = readFileSync(`${REPO}test/fixtures/minisign/message.txt`);

describe('minisign keys and signatures', () => {
  it('verifies prehashed and legacy signatures that minisign made', () => {
    const pub = parsePublicKey(fixture('unenc.pub'));
    for (const sig of ['message.txt.unenc.prehashed.minisig', 'message.txt.unenc.legacy.minisig']) {
      expect(signatureProblem(pub, parseSignature(fixture(sig)), message), sig).toBeUndefined();
    }
  });

  it('signs byte for byte as minisign does with the same key and comments', () => {
    const key = parseSecretKey(fixture('unenc.key'));
    const theirs = fixture('message.txt.unenc.prehashed.minisig');
    const sig = parseSignature(theirs);
    expect(signMessage(key, message, sig.trustedComment, sig.untrustedComment)).toBe(theirs);
  });

  it('decrypts a password-protected key that minisign made, and refuses a wrong password', () => {
    const key = parseSecretKey(fixture('enc.key'), fixture('password.txt'));
    expect(key.key.equals(parsePublicKey(fixture('enc.pub')).key)).toBe(true);
    expect(() => parseSecretKey(fixture('enc.key'), 'not the password')).toThrow(/wrong password/);
    expect(() => parseSecretKey(fixture('enc.key'))).toThrow(/encrypted/);
  }, 30_000);

  it('refuses a signature whose trusted comment was altered, or that another key made', () => {
    const pub = parsePublicKey(fixture('unenc.pub'));
    const altered = fixture('message.txt.unenc.prehashed.minisig').replace(/^trusted comment: .*$/m, 'trusted comment: timestamp:0');
    expect(signatureProblem(pub, parseSignature(altered), message)).toMatch(/trusted comment was altered/);
    expect(signatureProblem(parsePublicKey(fixture('enc.pub')), parseSignature(fixture('message.txt.unenc.prehashed.minisig')), message))
      .toMatch(/not with the trusted key/);
    expect(signatureProblem(pub, parseSignature(fixture('message.txt.unenc.prehashed.minisig')), Buffer.concat([message, Buffer.from('x')])))
      .toMatch(/does not match the file/);
  });

  it('writes keys that read back to the same key, with the key id minisign shows', () => {
    const key = generateKey();
    const again = parseSecretKey(formatSecretKey(key));
    expect(again.secret.equals(key.secret)).toBe(true);
    const pub = formatPublicKey(key);
    expect(pub).toMatch(new RegExp(`minisign public key ${keyIdHex(key.keyId)}\\n`));
    expect(parsePublicKey(pub).key.equals(key.key)).toBe(true);
    expect(signatureProblem(parsePublicKey(pub), parseSignature(signMessage(key, message, 'x')), message)).toBeUndefined();
  });
});
