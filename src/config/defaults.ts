// Every default, once: construction and the messages that name a default both read them here.

export const DEFAULT_LIMITS = Object.freeze({
  linkRequestsPerIp: 20,
  linkRequestsPerEmail: 5,
  failedVerifiesPerIp: 20,
  failedExchangesPerIp: 10,
  failedExchangesPerEmail: 20,
  failedExchangesTotal: 1000,
  attemptChecksPerIp: 1200,
  windowSeconds: 3600,
  blockSeconds: 3600,
});

export const DEFAULTS = Object.freeze({
  ttlSeconds: 900,
  retentionSeconds: 86_400,
  keyPrefix: 'ml:',
  tablePrefix: 'magic_link_',
  confirmPath: '/auth/magic-link/confirm',
  successRedirect: '/',
  signInPath: '/',
  codeAttempts: 5,
  revokeEarlierLinks: false,
  burnOtherLinksOnSignIn: true,
  crossDevice: false,
  mailTimeoutMs: 10_000,
  storeTimeoutMs: 1_000,
  waitForReplicas: 0,
  docsBaseUrl: 'https://docs.asterwise.com/reference/errors',
  ipv6SubnetBits: 64,
  ipv6WideSubnetBits: 48,
  /** Records one memory store holds at most. */
  maxRecords: 100_000,
});

/**
 * How a store call's deadline is shared out: a (re)connecting client is waited for at most half of
 * it, and a write that reaches the server after 80 % of it changes nothing (its caller may already
 * have been answered 503).
 */
export function storeDeadlines(storeTimeoutMs: number): { readonly readyTimeoutMs: number; readonly writeDeadlineMs: number } {
  return { readyTimeoutMs: Math.floor(storeTimeoutMs / 2), writeDeadlineMs: Math.floor(storeTimeoutMs * 0.8) };
}

/** A base URL without its trailing slashes, so paths can be appended. */
export function trimSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}
