// Before sign-in the demo's session remembers the address a link went to (to name it on the page).
// Sessions can live in Redis for a week, so addresses are never kept readable there: sealed under a
// key derived from SESSION_SECRET, and used as map keys only as keyed digests.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

export interface SessionSeal {
  seal(text: string): string;
  /** The text, or undefined for anything not sealed under this secret. */
  open(sealed: string | undefined): string | undefined;
  /** A keyed digest: the same address gives the same key, which says nothing about it. */
  key(text: string): string;
}

export function sessionSeal(secret: string): SessionSeal {
  const derive = (purpose: string) => createHmac('sha256', secret).update(purpose).digest();
  const sealKey = derive('demo session seal');
  const digestKey = derive('demo session key');
  return {
    seal(text) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
      const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    open(sealed) {
      if (typeof sealed !== 'string') return undefined;
      try {
        const bytes = Buffer.from(sealed, 'base64url');
        const decipher = createDecipheriv('aes-256-gcm', sealKey, bytes.subarray(0, 12));
        decipher.setAuthTag(bytes.subarray(12, 28));
        return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
    key(text) {
      return createHmac('sha256', digestKey).update(text.toLowerCase()).digest('base64url').slice(0, 22);
    },
  };
}
