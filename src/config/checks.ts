// Construction-time option checks: each failure is a TypeError naming the option, the value and the fix.

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'symbol' ? value.toString() : `${value as number | boolean | bigint | undefined}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** Accepts a plain or null-prototype object and returns a copy without `undefined` values. */
export function dropUndefined<T extends object>(options: T | undefined | null, where: string): Partial<T> {
  if (options === undefined || options === null) return {};
  const proto: unknown = typeof options === 'object' ? Object.getPrototypeOf(options) : undefined;
  if (typeof options !== 'object' || Array.isArray(options) || (proto !== Object.prototype && proto !== null)) {
    throw new TypeError(`\`${where}\` options must be a plain object; got ${describe(options)}.`);
  }
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) copy[key] = value;
  return copy as Partial<T>;
}

export function assertKnownKeys(options: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const lower = key.toLowerCase();
    // A part left off (`ttl` for `ttlSeconds`, `prefix` for `keyPrefix`) counts as near, as do small typos.
    const nearest = known
      .map((candidate) => {
        const other = candidate.toLowerCase();
        const isPrefix = lower.length >= 3 && (other.startsWith(lower) || lower.startsWith(other) || other.endsWith(lower));
        return { candidate, distance: isPrefix ? 0 : editDistance(lower, other) };
      })
      .sort((a, b) => a.distance - b.distance)[0];
    const hint =
      nearest && nearest.distance <= Math.max(2, Math.floor(key.length / 3))
        ? ` Did you mean \`${nearest.candidate}\`?`
        : ` Known options: ${known.map((k) => `\`${k}\``).join(', ')}.`;
    throw new TypeError(`\`${where}\` got an unknown option \`${key}\`.${hint}`);
  }
}

export function assertWholeNumber(value: unknown, where: string, name: string, min: number, max: number): asserts value is number | undefined {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`\`${where}\` option \`${name}\` must be a whole number from ${min} to ${max}; got ${describe(value)}.`);
  }
}

export function assertOptionalFunction(value: unknown, where: string, name: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new TypeError(`\`${where}\` option \`${name}\` must be a function; got ${describe(value)}.`);
  }
}

export function assertOptionalUrl(value: unknown, where: string, name: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || !/^https?:\/\/[^/?#\s]+/i.test(value) || !URL.canParse(value)) {
    throw new TypeError(`\`${where}\` option \`${name}\` must be an absolute http(s) URL such as "https://app.example.com"; got ${describe(value)}.`);
  }
}

export function assertOptionalPath(value: unknown, where: string, name: string): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || /[\\\s?#]/.test(value)) {
    throw new TypeError(`\`${where}\` option \`${name}\` must be an absolute path such as "/auth/magic-link/confirm"; got ${describe(value)}.`);
  }
}

/** A Redis key prefix: the `{hash tag}` follows it, so braces (and spaces) would break Cluster slots. */
export function assertKeyPrefix(value: unknown, where: string): void {
  if (value !== undefined && (typeof value !== 'string' || /[{}\s]/.test(value))) {
    throw new TypeError(
      `\`${where}\` option \`keyPrefix\` must be a string without braces or spaces (the hash tag follows it), such as "ml:"; got ${describe(value)}.`,
    );
  }
}

/** A list of origins (`https://app.example.com`, `http://localhost:5173`): scheme, host and port only. */
export function originList(value: unknown, where: string, name: string): ReadonlySet<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) {
    throw new TypeError(`\`${where}\` option \`${name}\` must be an array of origins such as ["https://app.example.com"]; got ${describe(value)}.`);
  }
  return new Set(
    value.map((entry: unknown) => {
      const text = typeof entry === 'string' ? entry.replace(/\/$/, '') : '';
      const origin = URL.canParse(text) ? new URL(text) : undefined;
      if (!origin || (origin.protocol !== 'http:' && origin.protocol !== 'https:') || origin.origin !== text) {
        throw new TypeError(
          `\`${where}\` option \`${name}\` takes origins only (scheme, host and port, no path), such as "https://app.example.com"; got ${describe(entry)}.`,
        );
      }
      return origin.origin;
    }),
  );
}

/** Schemes that run code or read local data in a browser: never a redirect target. */
const DANGEROUS_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'filesystem:']);

/** What `allowedRedirects` allows: whole origins (`https://www.example.com`) and app schemes (`myapp:`). */
export interface RedirectAllowList {
  readonly origins: ReadonlySet<string>;
  readonly schemes: ReadonlySet<string>;
}

/** `allowedRedirects`: origins (`https://www.example.com`) and app schemes (`myapp:`). */
export function redirectAllowList(value: unknown, where: string): RedirectAllowList {
  const origins = new Set<string>();
  const schemes = new Set<string>();
  if (value === undefined) return { origins, schemes };
  if (!Array.isArray(value)) {
    throw new TypeError(`\`${where}\` option \`allowedRedirects\` must be an array such as ["https://www.example.com", "myapp:"]; got ${describe(value)}.`);
  }
  for (const entry of value as unknown[]) {
    const scheme = typeof entry === 'string' ? /^([a-z][a-z0-9+.-]*:)(?:\/\/)?$/i.exec(entry)?.[1]?.toLowerCase() : undefined;
    if (scheme !== undefined && scheme !== 'http:' && scheme !== 'https:') {
      if (DANGEROUS_SCHEMES.has(scheme))
        throw new TypeError(`\`${where}\` option \`allowedRedirects\` must not allow ${scheme} URLs: they run code in the browser.`);
      schemes.add(scheme);
      continue;
    }
    for (const origin of originList([entry], where, 'allowedRedirects')) origins.add(origin);
  }
  return { origins, schemes };
}
