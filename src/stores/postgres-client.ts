// The slice of a PostgreSQL client the library uses: node-postgres's `Pool` (or `Client`), or anything
// with the same `query(text, values)`. Structural, so `pg` stays an optional peer and its types never
// reach an app that does not use it.

/** What a query answers: its rows and how many it touched. */
export interface PostgresResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number | null;
}

/** A node-postgres `Pool`, or any client with the same `query(text, values)`. */
export interface PostgresClient {
  query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<PostgresResult<Row>>;
}

/** A node-postgres `Pool`: it can lend a client for a transaction, and emits `error` for idle clients. */
interface PoolLike extends PostgresClient {
  on(event: 'error', listener: (error: Error) => void): unknown;
  listenerCount(event: 'error'): number;
}

export function isPostgresClient(value: unknown): value is PostgresClient {
  return typeof value === 'object' && value !== null && typeof (value as Partial<PostgresClient>).query === 'function';
}

/**
 * A node-postgres pool with no `error` listener crashes the process when an idle client's
 * connection dies (a restart, `pg_terminate_backend`). The library adds one, once, that only
 * counts: the pool replaces the client by itself, and the next query fails or succeeds on its own.
 */
export function guardPoolErrors(client: PostgresClient, onError: (error: Error) => void): void {
  const pool = client as Partial<PoolLike>;
  if (typeof pool.on !== 'function' || guarded.has(client)) return;
  guarded.add(client);
  pool.on('error', onError);
}
const guarded = new WeakSet<object>();
