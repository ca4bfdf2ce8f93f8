import { describe, expect, it } from 'vitest';
import type { BuilderSpec } from '../../pipeline/domain.ts';
import { ImageError } from '../../pipeline/errors.ts';
import type { RunScope } from '../../pipeline/engine/run-scope.ts';
import { ensureBaseImage } from '../../pipeline/image/base-image.ts';
import { classifyPullFailure } from '../../pipeline/image/registry-answer.ts';
import { FakeEngine } from '../helpers/fake-engine.ts';

const log = { info: () => {}, warn: () => {} };

describe('a failed base image pull', () => {
  it('is "no registry" when none was reached: DNS, refused connection, timeout', () => {
    for (const reason of [
      'Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid on 10.0.0.53:53: server misbehaving',
      'Get "https://registry.invalid/v2/": dial tcp 192.0.2.1:443: connect: connection refused',
      'Get "https://registry.invalid/v2/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)',
      'Get "https://registry.invalid/v2/": proxyconnect tcp: dial tcp 127.0.0.1:3128: connect: connection refused',
    ]) expect(classifyPullFailure(reason), reason).toEqual({ kind: 'unreachable' });
  });

  it('is a refusal when a registry answered, with a hint that fits the answer', () => {
    expect(classifyPullFailure('toomanyrequests: You have reached your pull rate limit.')).toMatchObject({ kind: 'refused', hint: expect.stringMatching(/limits pulls/) });
    expect(classifyPullFailure('pull access denied for debian-nope, repository does not exist or may require \'docker login\'')).toMatchObject({ kind: 'refused', hint: expect.stringMatching(/docker login/) });
    expect(classifyPullFailure('manifest for debian:nope not found: manifest unknown: manifest unknown')).toMatchObject({ kind: 'refused', hint: expect.stringMatching(/builder\.base/) });
    expect(classifyPullFailure('received unexpected HTTP status: 503 Service Unavailable')).toMatchObject({ kind: 'refused', hint: expect.stringMatching(/builder\.snapshot/) });
  });

  it('stops before bootstrapping when the registry refused, with its words and a hint', async () => {
    const engine = new FakeEngine(() => ({ exitCode: 0 }) as never);
    engine.pullAttempt = { pulled: false, reason: 'unauthorized: authentication required' };
    const spec = { base: 'debian:trixie', suite: 'trixie', snapshot: undefined } as BuilderSpec;
    const archive = { url: 'http://archive.invalid/debian', suite: 'trixie', snapshot: undefined, sourcesLine: 'deb http://archive.invalid/debian trixie main' };
    const err = (await ensureBaseImage({ engine } as unknown as RunScope, spec, archive, log, new AbortController().signal).catch((e: unknown) => e)) as ImageError;
    expect(err).toBeInstanceOf(ImageError);
    expect(err.oneLine).toBe('base image debian:trixie: the registry refused the pull: unauthorized: authentication required (log in to the registry (docker login), or name a public image in builder.base)');
    expect([...engine.images.keys()]).toEqual([]);
  });
});
