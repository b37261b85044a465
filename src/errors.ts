// The error catalogue of SPEC §3 as data, and the one error class every failure travels as.

/** One row of the error catalogue. */
export interface CatalogueEntry {
  /** HTTP status sent with this code. */
  readonly status: number;
  /** The sentence shown to callers; fixed so clients can rely on it. */
  readonly message: string;
}

export const errorCatalogue = Object.freeze({
  magic_link_not_found: { status: 401, message: 'Magic link not found or already expired.' },
  magic_link_expired: { status: 401, message: 'This magic link has expired. Request a new one.' },
  magic_link_already_used: { status: 401, message: 'This magic link has already been used.' },
  magic_link_ip_limit_exceeded: { status: 429, message: 'Too many magic link requests from this IP.' },
  magic_link_email_limit_exceeded: { status: 429, message: 'Too many magic link requests for this email.' },
  exchange_code_not_found: { status: 401, message: 'Exchange code not found or expired.' },
  exchange_code_already_used: { status: 401, message: 'Exchange code has already been used.' },
  exchange_code_attempt_limit_exceeded: { status: 429, message: 'Too many failed exchange attempts.' },
  account_not_found: { status: 404, message: 'No account was found matching the provided credentials.' },
  invalid_email: { status: 422, message: 'Please provide a valid email address.' },
  validation_error: {
    status: 422,
    message: "The request couldn't be processed. See the 'details' field for specific field-level issues.",
  },
  invalid_request_body: { status: 422, message: 'Request body is missing or malformed.' },
  payload_too_large: { status: 413, message: 'Request body exceeds maximum allowed size of 64KB.' },
  cross_site_request: { status: 403, message: 'Cross-site requests are not allowed.' },
  session_not_found: { status: 401, message: 'Session not found. Please sign in again.' },
  resource_not_found: {
    status: 404,
    message: 'The requested resource was not found at this endpoint. Verify the URL path and resource identifier.',
  },
  email_delivery_failed: {
    status: 503,
    message: 'We are having trouble sending email right now. Please try again in a few minutes.',
  },
  service_unavailable: {
    status: 503,
    message: 'The sign-in service is temporarily unavailable. Please try again shortly.',
  },
  internal_error: {
    status: 500,
    message: 'Something went wrong on our end. Please try again, or contact support if the problem persists. Include your request_id when contacting support.',
  },
} as const satisfies Record<string, CatalogueEntry>);

/** Every error code the library can answer with. */
export type ErrorCode = keyof typeof errorCatalogue;

/** The codes a spent budget answers with. */
export type LimitCode = 'magic_link_ip_limit_exceeded' | 'magic_link_email_limit_exceeded' | 'exchange_code_attempt_limit_exceeded';

export function isLimitCode(code: ErrorCode): code is LimitCode {
  return code === 'magic_link_ip_limit_exceeded' || code === 'magic_link_email_limit_exceeded' || code === 'exchange_code_attempt_limit_exceeded';
}

/** One field-level problem in a `validation_error`. */
export interface ValidationIssue {
  /** Where the problem is: `['body', 'email']`, `['query', 'token']`. */
  readonly loc: readonly (string | number)[];
  /** A sentence about the problem, e.g. `Field required`. */
  readonly msg: string;
  /** A stable identifier: `missing`, `string_type`, `string_too_long`, `value_error`, … */
  readonly type: string;
  /** The offending value; left out for secrets (tokens, codes). */
  readonly input?: unknown;
}

export interface MagicLinkErrorOptions {
  /** Seconds until a retry can succeed; only for rate-limit and availability errors. */
  retryAfter?: number | null;
  details?: readonly ValidationIssue[];
  /** The underlying failure, kept for logs; never rendered. */
  cause?: unknown;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCatalogue, value);
}

// A brand shared by every copy of the package: an app that both `import`s and `require`s it holds two
// classes, and an error made by one must still be recognised (and rendered) by the other.
const BRAND = Symbol.for('express-magic-link.error');

/**
 * A failure with a catalogue code; the error handler renders it as the JSON envelope. `instanceof`
 * checks the brand, not the prototype, so it holds across the ESM and CommonJS copies.
 */
export class MagicLinkError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true && isErrorCode((value as { code?: unknown }).code);
  }

  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfter: number | null;
  readonly details: readonly ValidationIssue[];

  constructor(code: ErrorCode, options: MagicLinkErrorOptions = {}) {
    const entry: CatalogueEntry = errorCatalogue[code];
    super(entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MagicLinkError';
    this.code = code;
    this.status = entry.status;
    this.retryAfter = options.retryAfter ?? null;
    this.details = Object.freeze([...(options.details ?? [])]);
    Object.defineProperty(this, BRAND, { value: true });
  }
}

// Answers and events name the same second many times over under load: format each second once. A
// link's answer names two (sent and expires), so a few are remembered, not one that both evict.
const recentIso = new Map<number, string>();
/** UTC to the second with `Z`, no fraction: `2026-05-25T12:34:56Z` (envelopes and events). */
export function isoSeconds(ms: number): string {
  const second = Math.floor(ms / 1000);
  let iso = recentIso.get(second);
  if (iso === undefined) {
    if (recentIso.size >= 8) recentIso.clear();
    iso = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
    recentIso.set(second, iso);
  }
  return iso;
}
