// Storing a new link: draw a code, derive the token from its digest, seal the record, save it.
import type { MagicLinkConfig } from '../config/options.js';
import type { AttemptFields, SaveOptions, TokenKey, TokenRecord } from '../stores/contract.js';
import { emailKeyOf, newCode, newToken, seal, tagOfEmailDigest, type Keyring } from './tokens.js';

/**
 * Fresh codes tried before giving up on a save. An address holding n records refuses a code with
 * probability n / 1,000,000: with the default per-address limit that is a few in ten thousand, and
 * even 100,000 records for one address (limits lifted) fail ten draws in a row once in 10^10.
 */
const SAVE_ATTEMPTS = 10;

export interface NewLink {
  readonly email: string;
  readonly digest: string;
  readonly sealed: { readonly redirect: string | null; readonly data: string | undefined; readonly attempt?: string | undefined };
  readonly now: number;
  readonly expiresAt: number;
  /** The cross-device attempt to save with the link, made for its tag and id once they are drawn. */
  readonly attempt?: ((tag: string, id: string) => AttemptFields) | undefined;
}

/** Stores one record: `true` saved, `false` the id is taken (draw again). Default: the store's `save`. */
export type SaveRecord = (key: TokenKey, record: TokenRecord, options: SaveOptions) => Promise<boolean>;

/**
 * Draws a code and stores the link under its digest. The email may already hold a record with
 * that digest (one chance in a million per record it holds); the store then refuses and we draw again.
 */
export async function saveLink(
  config: MagicLinkConfig,
  keyring: Keyring,
  link: NewLink,
  saveRecord: SaveRecord = (key, record, options) => config.store.save(key, record, options),
): Promise<{ token: string; code: string; key: TokenKey }> {
  const { email, digest, sealed, now, expiresAt, attempt: attemptFor } = link;
  const tag = tagOfEmailDigest(digest);
  for (let attempt = 1; ; attempt++) {
    const code = newCode();
    const token = newToken(tag, keyring.codeDigest(digest, code));
    const key = keyring.tokenKey(token);
    const record: TokenRecord = {
      sealed: seal(token, { email, ...sealed }),
      emailKey: emailKeyOf(digest),
      expiresAt,
      retainUntil: expiresAt + config.retentionSeconds * 1000,
      usedAt: null,
      ...(attemptFor ? { attempt: attemptFor(key.tag, key.id) } : {}),
    };
    if (await saveRecord(key, record, { now, revokeOthers: config.revokeEarlierLinks })) return { token, code, key };
    if (attempt === SAVE_ATTEMPTS) throw new Error(`the token store refused ${SAVE_ATTEMPTS} fresh codes in a row`);
  }
}
