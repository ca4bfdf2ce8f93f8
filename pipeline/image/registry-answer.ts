/**
 * Why a base image pull failed, told apart: no registry was reached (no DNS, no route,
 * connection refused, timed out: an offline host, which bootstraps the image itself), or a
 * registry answered with a refusal (authentication, unknown image, rate limit, server error),
 * which bootstrapping would only hide.
 */

/** How an engine words a pull that reached no registry (Go's net/http and net errors). */
const UNREACHABLE = [
  /\bdial tcp\b/i,
  /\bproxyconnect\b/i,
  /no such host/i,
  /server misbehaving/i,
  /name resolution/i,
  /connection refused/i,
  /network is unreachable/i,
  /no route to host/i,
  /i\/o timeout/i,
  /Client\.Timeout exceeded/i,
  /TLS handshake timeout/i,
  /context deadline exceeded/i,
  /request canceled while waiting for connection/i,
  /connection reset by peer/i,
];

export type PullFailure =
  | { readonly kind: 'unreachable' }
  | { readonly kind: 'refused'; readonly hint: string };

const HINTS: readonly [RegExp, string][] = [
  [/toomanyrequests|rate limit|\b429\b/i, 'the registry limits pulls: wait and run again, or log in (docker login) for a higher limit'],
  [/unauthorized|authentication required|access denied|pull access denied|denied|\b40[13]\b/i, 'log in to the registry (docker login), or name a public image in builder.base'],
  [/manifest unknown|not found|does not exist|no such image|\b404\b/i, 'check the name and tag in builder.base'],
];

const GENERAL_HINT = 'the registry answered but would not serve it; fix that, or set builder.snapshot to bootstrap the base image from the Debian archive instead';

export function classifyPullFailure(reason: string): PullFailure {
  if (UNREACHABLE.some((re) => re.test(reason))) return { kind: 'unreachable' };
  return { kind: 'refused', hint: HINTS.find(([re]) => re.test(reason))?.[1] ?? GENERAL_HINT };
}
