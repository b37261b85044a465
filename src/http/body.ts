// Request bodies and fields: parsed with Express's own parsers (64 KiB), checked field by field.
import express, { type Request, type RequestHandler, type Response } from 'express';
import { MagicLinkError, type ValidationIssue } from '../errors.js';
import { MAX_ADDRESS_OCTETS } from '../sign-in/email.js';
import { toMagicLinkError } from './respond.js';

const BODY_LIMIT = '64kb';
const MAX_ECHOED_INPUT = 100;
// body-parser reads an empty body as {}; remember which requests had one, since that is "no body".
const emptyBodies = new WeakSet<object>();
const jsonParser = express.json({
  limit: BODY_LIMIT,
  verify: (req, _res, buffer) => {
    if (buffer.length === 0) emptyBodies.add(req);
  },
});
const formParser = express.urlencoded({ limit: BODY_LIMIT, extended: false, parameterLimit: 20 });

function runParser(parser: RequestHandler, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    parser(req, res, (error?: unknown) => (error ? reject(toMagicLinkError(error)) : resolve()));
  });
}

function asRecord(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new MagicLinkError('invalid_request_body');
  return body as Record<string, unknown>;
}

/** The JSON object body; anything else (no body, not JSON, an array or scalar) is `invalid_request_body`. */
export async function readJsonBody(req: Request, res: Response): Promise<Record<string, unknown>> {
  if (!req.is('application/json') || req.headers['content-length'] === '0') throw new MagicLinkError('invalid_request_body');
  // body-parser skips a body the app already parsed, so mounting express.json() app-wide is fine.
  await runParser(jsonParser, req, res);
  if (emptyBodies.has(req)) throw new MagicLinkError('invalid_request_body');
  return asRecord(req.body);
}

/**
 * The body a strategy mounted on an app's own route reads: the app's parsed body when there is one,
 * otherwise JSON or a form parsed here, so `passport.authenticate('magic-link')` needs no parser.
 */
export async function readAnyBody(req: Request): Promise<Record<string, unknown>> {
  const parsed: unknown = req.body;
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  // No body at all reads as empty, so the caller learns which field is missing.
  if (req.headers['content-type'] === undefined || req.headers['content-length'] === '0') return {};
  // Express sets req.res; body-parser does not use it beyond passing it along.
  const res = (req as Request & { res?: Response }).res as Response;
  if (req.is('application/x-www-form-urlencoded')) return readFormBody(req, res);
  return readJsonBody(req, res);
}

/** The urlencoded body of an HTML form. */
export async function readFormBody(req: Request, res: Response): Promise<Record<string, unknown>> {
  if (!req.is('application/x-www-form-urlencoded')) throw new MagicLinkError('invalid_request_body');
  await runParser(formParser, req, res);
  return asRecord(req.body);
}

export interface FieldRule {
  readonly where: 'body' | 'query';
  readonly required: boolean;
  readonly maxLength: number;
  /** Secrets (tokens, codes) and personal data (email addresses) are never echoed back as `input`. */
  readonly secret?: boolean;
}

export type FieldResult = { readonly value: string | undefined; readonly issue?: undefined } | { readonly value?: undefined; readonly issue: ValidationIssue };

/** Reads one string field; own properties only, so `__proto__` tricks read as absent. */
export function readStringField(source: Record<string, unknown>, name: string, rule: FieldRule): FieldResult {
  const loc = [rule.where, name];
  const value = Object.hasOwn(source, name) ? source[name] : undefined;
  // Only strings are echoed, cut short; objects and arrays never are (they can be any depth).
  const withInput = (issue: Omit<ValidationIssue, 'input'>): ValidationIssue =>
    rule.secret || typeof value !== 'string' ? issue : { ...issue, input: value.slice(0, MAX_ECHOED_INPUT) };
  if (value === undefined) {
    return rule.required ? { issue: { loc, msg: 'Field required', type: 'missing' } } : { value: undefined };
  }
  if (typeof value !== 'string') {
    return { issue: withInput({ loc, msg: 'Input should be a valid string', type: 'string_type' }) };
  }
  if (value.length > rule.maxLength) {
    return {
      issue: withInput({ loc, msg: `String should have at most ${rule.maxLength} characters`, type: 'string_too_long' }),
    };
  }
  return { value };
}

export function validationError(issues: readonly ValidationIssue[]): MagicLinkError {
  return new MagicLinkError('validation_error', { details: issues });
}

/** The `email` field's limit: the address limit plus a little slack for spaces that are trimmed. */
export const MAX_EMAIL_FIELD = MAX_ADDRESS_OCTETS + 64;

/** The answer for an `email` that is a string but not a usable address (never echoed back). */
export function invalidEmail(reason: 'too_long' | 'invalid'): MagicLinkError {
  if (reason === 'too_long') {
    return validationError([{ loc: ['body', 'email'], msg: `String should have at most ${MAX_ADDRESS_OCTETS} characters`, type: 'string_too_long' }]);
  }
  return new MagicLinkError('invalid_email', {
    details: [{ loc: ['body', 'email'], msg: 'value is not a valid email address', type: 'value_error' }],
  });
}
