// A small express-session store on a node-postgres pool, so every demo process on one database
// shares sessions the way it shares links and limits. (connect-pg-simple does the same for apps
// that prefer a package; this one answers an outage as a 503, like the rest of the demo.)
import session from 'express-session';
import type pg from 'pg';
import { MagicLinkError } from 'express-magic-link';

const unavailable = (error: unknown) => new MagicLinkError('service_unavailable', { retryAfter: 5, cause: error });

const DEFAULT_TTL_MS = 7 * 24 * 3600 * 1000;

export const SESSION_TABLE_SQL = `CREATE TABLE IF NOT EXISTS demo_sessions (
  sid text PRIMARY KEY,
  data jsonb NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS demo_sessions_expires_at ON demo_sessions (expires_at);`;

export class PostgresSessionStore extends session.Store {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    super();
    this.#pool = pool;
  }

  #expiry(data: session.SessionData): Date {
    return data.cookie?.expires ? new Date(data.cookie.expires) : new Date(Date.now() + DEFAULT_TTL_MS);
  }

  override get(sid: string, callback: (error: unknown, data?: session.SessionData | null) => void): void {
    this.#pool.query<{ data: session.SessionData }>('SELECT data FROM demo_sessions WHERE sid = $1 AND expires_at > now()', [sid]).then(
      ({ rows }) => callback(null, rows[0]?.data ?? null),
      (error: unknown) => callback(unavailable(error)),
    );
  }

  override set(sid: string, data: session.SessionData, callback?: (error?: unknown) => void): void {
    this.#pool
      .query(
        'INSERT INTO demo_sessions (sid, data, expires_at) VALUES ($1, $2, $3) ON CONFLICT (sid) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at',
        [sid, JSON.stringify(data), this.#expiry(data)],
      )
      .then(
        () => callback?.(),
        (error: unknown) => callback?.(unavailable(error)),
      );
  }

  override touch(sid: string, data: session.SessionData, callback?: () => void): void {
    this.#pool.query('UPDATE demo_sessions SET expires_at = $2 WHERE sid = $1', [sid, this.#expiry(data)]).then(
      () => callback?.(),
      () => callback?.(),
    );
  }

  override destroy(sid: string, callback?: (error?: unknown) => void): void {
    this.#pool.query('DELETE FROM demo_sessions WHERE sid = $1', [sid]).then(
      () => callback?.(),
      (error: unknown) => callback?.(unavailable(error)),
    );
  }
}
