// `npm run bench`: request-link and verify on the memory store, on Redis, as a bare Express route
// (the ceiling), as a session sign-in that checks no token (the floor under every verify), and with
// two peers, passport-magic-login and better-auth's magic-link plugin (on PostgreSQL), each for a
// fixed time at a fixed concurrency, all in one run on loopback. Prints a table and a JSON summary.
//
// The machine is shared (load generator, servers and Redis on the same cores, and whatever else runs
// there), so its speed drifts during a run. Each case's time is therefore cut into rounds, and the
// rounds of all cases are interleaved in a rotating order: drift lands on every case alike instead
// of on whichever case ran during it, and the ratios stay comparable.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { PostgresServer } from '../test/helpers/postgres-server.js';
import { RedisServer } from '../test/helpers/redis-server.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 4));
const FOOTPRINT_LINKS = Number(process.env.BENCH_FOOTPRINT_LINKS ?? 100_000);

type ServerMode = 'bare' | 'floor' | 'memory' | 'memory-app' | 'redis' | 'redis-app' | 'redis-wait' | 'postgres' | 'peer' | 'better-auth';
/** A server mode, or `before:<mode>`: the same server on the build in BENCH_BEFORE. */
type Mode = ServerMode | `before:${ServerMode}`;
type Flow = 'request-link' | 'verify';

interface CaseResult {
  case: string;
  mode: Mode;
  flow: Flow;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  requests: number;
  ratioToBare?: number;
  /** Verify cases: requests/s over the floor's, a session sign-in that checks no token. */
  ratioToFloor?: number;
  p99RatioToBare?: number;
  redisCommandsPerRequest?: number;
  redisRoundTripsPerRequest?: number;
  /** The `redis` case: commands per request over a counted batch of requests, each answered. */
  redisCommandsPerCountedRequest?: number;
  /** PostgreSQL cases: statements the pool was sent per request. */
  postgresRoundTripsPerRequest?: number;
}

const serverModeOf = (mode: Mode): ServerMode => mode.replace(/^before:/, '') as ServerMode;
const usesRedis = (mode: Mode): boolean => serverModeOf(mode).startsWith('redis');
const usesPostgres = (mode: Mode): boolean => serverModeOf(mode) === 'postgres' || mode === 'better-auth';

function startServer(mode: Mode, env: Record<string, string> = {}): Promise<{ url: string; child: ChildProcess }> {
  const before = mode.startsWith('before:') ? { BENCH_PACKAGE: BEFORE_PACKAGE! } : {};
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts', serverModeOf(mode)], {
      env: { ...process.env, ...env, ...before, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timer = setTimeout(() => reject(new Error(`${mode} server did not start`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /ready (\d+)/.exec(chunk.toString());
      if (match) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${match[1]}`, child });
      }
    });
  });
}

// The peers' own routes: a link is asked for by POST, and opened by GET with its token.
const LINK_PATHS: Partial<Record<ServerMode, string>> = { peer: '/auth/magiclogin', 'better-auth': '/api/auth/sign-in/magic-link' };
const LINK_OPENED_PATHS: Partial<Record<ServerMode, string>> = { peer: '/auth/magiclogin/callback', 'better-auth': '/api/auth/magic-link/verify' };

let sequence = 0;
/** Every link request names a new address from a new IP, so the limits never decide the result. */
function linkRequest(mode: Mode): autocannon.Request {
  const peer = serverModeOf(mode) === 'peer';
  return {
    method: 'POST',
    path: LINK_PATHS[serverModeOf(mode)] ?? '/v1/auth/magic-link',
    headers: { 'content-type': 'application/json' },
    setupRequest: (req) => {
      const n = ++sequence;
      const email = `user${n}@bench.example`;
      return {
        ...req,
        headers: { ...req.headers, 'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` },
        body: JSON.stringify(peer ? { destination: email } : { email }),
      };
    },
  };
}

function verifyRequest(mode: Mode, tokens: string[]): autocannon.Request {
  let next = 0;
  const take = () => tokens[next++ % Math.max(tokens.length, 1)] ?? 'none';
  const getPath = LINK_OPENED_PATHS[serverModeOf(mode)];
  if (getPath) return { method: 'GET', path: getPath, setupRequest: (req) => ({ ...req, path: `${getPath}?token=${take()}` }) };
  return {
    method: 'POST',
    path: '/v1/auth/verify',
    headers: { 'content-type': 'application/json' },
    setupRequest: (req) => ({ ...req, body: JSON.stringify({ token: take() }) }),
  };
}

async function load(url: string, request: autocannon.Request, options: { duration?: number; amount?: number }): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, requests: [request], ...options });
}

/** One round of a case: a slice of its time, kept raw so the rounds can be merged. */
async function slice(url: string, request: autocannon.Request): Promise<autocannon.Result> {
  // autocannon times whole seconds.
  const seconds = Math.max(1, Math.round(DURATION / ROUNDS));
  return autocannon({ url, connections: CONNECTIONS, requests: [request], duration: seconds, skipAggregateResult: true });
}

async function takeTokens(url: string): Promise<string[]> {
  return ((await (await fetch(`${url}/bench/tokens`)).json()) as { tokens: string[] }).tokens;
}

/** Commands Redis ran since the last reset, those inside scripts included (INFO commandstats); the bench's own left out. */
function commandsRun(redis: RedisServer): number {
  let commands = 0;
  for (const [, name, calls] of redis.cli('info', 'commandstats').matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) {
    if (!/^(info|config|monitor|ping)/.test(name!)) commands += Number(calls);
  }
  return commands;
}

/** How long a Redis case's requests still in flight at the end of a slice are given to finish. */
const IN_FLIGHT_SETTLE_MS = 300;

/** Requests sent per flow while Redis round trips are counted, after the timed runs (MONITOR slows Redis). */
const COUNTED_REQUESTS = 200;

// In autocannon since v7, missing from its type definitions.
const { aggregateResult } = autocannon as unknown as {
  aggregateResult: (results: autocannon.Result[], options: { url: string; connections: number }) => autocannon.Result;
};

/** A case from its rounds: latency histograms merged, requests/s over the case's whole time. */
function summarise(mode: Mode, flow: Flow, rounds: autocannon.Result[], url: string): CaseResult {
  const merged = aggregateResult(rounds, { url, connections: CONNECTIONS });
  const raw = rounds as unknown as Array<{ totalCompletedRequests: number; duration: number }>;
  const completed = raw.reduce((sum, round) => sum + round.totalCompletedRequests, 0);
  const seconds = raw.reduce((sum, round) => sum + round.duration, 0);
  return {
    case: `${mode} ${flow}`,
    mode,
    flow,
    requestsPerSecond: Math.round(completed / seconds),
    p50Ms: merged.latency.p50,
    p99Ms: merged.latency.p99,
    errors: merged.errors + merged.timeouts,
    non2xx: merged.non2xx,
    requests: completed,
  };
}

const usedMemory = (redis: RedisServer): number => Number(/used_memory:(\d+)/.exec(redis.cli('info', 'memory'))![1]);
const keysMatching = (redis: RedisServer, pattern: string): string[] => redis.cli('--scan', '--pattern', pattern).trim().split('\n').filter(Boolean);

/** What the timed link-request run added to Redis per request: the link and, as every request named
 * a new address from a new IP, that address's and that IP's link-request counters. */
function usedMemoryPerRequest(redis: RedisServer, usedBefore: number, requests: number): { bytesPerRequest: number; emailStateKeys: number } {
  return {
    bytesPerRequest: Math.round((usedMemory(redis) - usedBefore) / requests),
    // No link was redeemed or revoked yet, so no email has policy state: a link is one key.
    emailStateKeys: keysMatching(redis, 'ml:{*}:e:*').length,
  };
}

interface Server {
  mode: Mode;
  url: string;
  child: ChildProcess;
  redis?: RedisServer;
}

// BENCH_WITHOUT_POSTGRES=1 leaves the PostgreSQL case out (to compare with builds that had none:
// its server's background work shares the two cores with every other case).
const WITH_POSTGRES = process.env.BENCH_WITHOUT_POSTGRES !== '1';
// BENCH_BEFORE=<checkout>: an earlier commit, built (`npm run build` there); its memory and Redis
// cases run beside today's, in the same rotation, on today's bench server.
const BEFORE_PACKAGE = process.env.BENCH_BEFORE ? `${path.resolve(process.env.BENCH_BEFORE)}/dist/esm/index.js` : undefined;
// Builds from before the PostgreSQL store (0b85de8 and earlier) have no PostgreSQL case.
const BEFORE_HAS_POSTGRES = BEFORE_PACKAGE !== undefined && typeof ((await import(BEFORE_PACKAGE)) as { migrate?: unknown }).migrate === 'function';
// BENCH_MODES=memory,redis-app,…: only those cases (bare, floor and redis always run: every ratio
// and the round-trip counts stand on them), for a quicker look at one change.
const ONLY = process.env.BENCH_MODES ? new Set(['bare', 'floor', 'redis', ...process.env.BENCH_MODES.split(',')]) : null;
const MODES: readonly Mode[] = [
  ...(['bare', 'floor', 'memory', 'memory-app', 'redis', 'redis-app', 'redis-wait', 'postgres', 'peer', 'better-auth'] as const).filter(
    (mode) => (WITH_POSTGRES || !usesPostgres(mode)) && (!ONLY || ONLY.has(mode)),
  ),
  ...(BEFORE_PACKAGE ? (['before:memory', 'before:memory-app', 'before:redis', 'before:redis-app', 'before:postgres'] as const) : []).filter(
    (mode) => ((WITH_POSTGRES && BEFORE_HAS_POSTGRES) || mode !== 'before:postgres') && (!ONLY || ONLY.has(serverModeOf(mode))),
  ),
];
const hasTokens = (mode: Mode): boolean => mode !== 'bare' && mode !== 'floor';

/** The earlier build's PostgreSQL case and better-auth get a database each: their schemas are their own. */
function databaseOf(postgres: PostgresServer, mode: Mode): string {
  if (mode === 'postgres') return postgres.url;
  const name = mode === 'better-auth' ? 'better_auth' : 'before';
  postgres.psql(`CREATE DATABASE ${name}`);
  return postgres.url.replace(/\/postgres$/, `/${name}`);
}

/** Every round runs each server once, starting one further along the list each time. */
async function inRotation(servers: Server[], run: (server: Server) => Promise<void>): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    progress(`round ${round + 1} of ${ROUNDS}: ${servers.map((s) => s.mode).join(', ')}`);
    for (let i = 0; i < servers.length; i++) await run(servers[(round + i) % servers.length]!);
  }
}

/** One line per step on stderr, so a four-minute run shows where it is; stdout keeps the results. */
function progress(step: string): void {
  process.stderr.write(`[bench ${Math.round((Date.now() - started) / 1000)} s] ${step}\n`);
}

/** Runs the rounds of one flow on the given servers; Redis commands are counted round by round. */
async function measureFlow(flow: Flow, servers: Server[], request: (server: Server) => autocannon.Request): Promise<CaseResult[]> {
  progress(`measuring ${flow}`);
  const rounds = new Map<Mode, autocannon.Result[]>();
  const requests = new Map(servers.map((server) => [server.mode, request(server)]));
  const redisCommands = new Map<Mode, number>();
  const sent = new Map<Mode, number>();
  await inRotation(servers, async (server) => {
    server.redis?.cli('config', 'resetstat');
    const result = await slice(server.url, requests.get(server.mode)!);
    if (server.redis) {
      // Requests still in flight when the slice stops run their commands too: let them finish, and
      // divide by the requests sent, not those completed (which overstated commands by ~1.5 %).
      await new Promise((resolve) => setTimeout(resolve, IN_FLIGHT_SETTLE_MS));
      redisCommands.set(server.mode, (redisCommands.get(server.mode) ?? 0) + commandsRun(server.redis));
      sent.set(server.mode, (sent.get(server.mode) ?? 0) + (result as unknown as { totalRequests: number }).totalRequests);
    }
    rounds.set(server.mode, [...(rounds.get(server.mode) ?? []), result]);
  });
  return servers.map((server) => {
    const result = summarise(server.mode, flow, rounds.get(server.mode)!, server.url);
    if (server.redis) result.redisCommandsPerRequest = redisCommands.get(server.mode)! / sent.get(server.mode)!;
    return result;
  });
}

async function runAll(
  redis: RedisServer,
  replicated: RedisServer,
  postgres: PostgresServer | undefined,
): Promise<{ cases: CaseResult[]; redisGrowth: ReturnType<typeof usedMemoryPerRequest> }> {
  const servers: Server[] = [];
  // Every other Redis case has a server of its own, so its commands and memory are its own.
  const others: RedisServer[] = [];
  try {
    for (const mode of MODES) {
      let redisOfMode = mode === 'redis' ? redis : mode === 'redis-wait' ? replicated : undefined;
      if (!redisOfMode && usesRedis(mode)) others.push((redisOfMode = await RedisServer.start()));
      const env: Record<string, string> = redisOfMode
        ? { REDIS_URL: redisOfMode.url }
        : postgres && usesPostgres(mode)
          ? { DATABASE_URL: databaseOf(postgres, mode) }
          : {};
      servers.push({ mode, ...(await startServer(mode, env)), redis: redisOfMode });
    }
    // Warm up: JIT, script loading, connection pools. The floor only signs in.
    for (const server of servers) {
      await load(server.url, server.mode === 'floor' ? verifyRequest('floor', []) : linkRequest(server.mode), { amount: 500 });
      if (hasTokens(server.mode)) await takeTokens(server.url);
    }

    const linkServers = servers.filter((server) => server.mode !== 'floor');
    const usedBefore = usedMemory(redis);
    const linkCases = await measureFlow('request-link', linkServers, (server) => linkRequest(server.mode));
    const redisLinks = linkCases.find((c) => c.mode === 'redis')!.requests;
    const redisGrowth = usedMemoryPerRequest(redis, usedBefore, redisLinks);

    // Verify redeems fresh tokens: those the timed run issued, topped up to outlast the verify run.
    const tokens = new Map<Mode, string[]>();
    for (const server of servers.filter((s) => hasTokens(s.mode))) {
      let issued = await takeTokens(server.url);
      const linkRate = linkCases.find((c) => c.mode === server.mode)!.requestsPerSecond;
      const wanted = Math.ceil(linkRate * DURATION * 2) + 1_000;
      if (issued.length < wanted) {
        // autocannon refuses an amount below its connections.
        await load(server.url, linkRequest(server.mode), { amount: Math.max(wanted - issued.length, CONNECTIONS) });
        issued = issued.concat(await takeTokens(server.url));
      }
      tokens.set(server.mode, issued);
    }
    const verifyCases = await measureFlow('verify', servers, (server) => verifyRequest(server.mode, tokens.get(server.mode) ?? []));
    for (const result of verifyCases) {
      if (hasTokens(result.mode) && result.requests > tokens.get(result.mode)!.length) console.warn(`${result.mode} verify ran out of fresh tokens`);
    }

    // Round trips: what the Redis server's clients sent, counted under MONITOR on fresh requests.
    const onRedis = servers.find((server) => server.mode === 'redis')!;
    await takeTokens(onRedis.url);
    // An exact count of requests, each answered: the commands per request without any rounding.
    const exactly = async (action: () => Promise<unknown>) => {
      redis.cli('config', 'resetstat');
      const trips = await redis.roundTrips(action);
      return { trips, commands: commandsRun(redis) };
    };
    const linkCounted = await exactly(() => load(onRedis.url, linkRequest('redis'), { amount: COUNTED_REQUESTS }));
    const counted = await takeTokens(onRedis.url);
    const verifyCounted = await exactly(() => load(onRedis.url, verifyRequest('redis', counted), { amount: counted.length }));
    const redisLink = linkCases.find((c) => c.mode === 'redis')!;
    const redisVerify = verifyCases.find((c) => c.mode === 'redis')!;
    redisLink.redisRoundTripsPerRequest = linkCounted.trips / COUNTED_REQUESTS;
    redisVerify.redisRoundTripsPerRequest = verifyCounted.trips / counted.length;
    redisLink.redisCommandsPerCountedRequest = linkCounted.commands / COUNTED_REQUESTS;
    redisVerify.redisCommandsPerCountedRequest = verifyCounted.commands / counted.length;
    // PostgreSQL round trips: the statements its pool was sent, on fresh requests.
    const onPostgres = servers.find((server) => server.mode === 'postgres');
    if (onPostgres) {
      await takeTokens(onPostgres.url);
      const statements = async (action: () => Promise<unknown>) => {
        await fetch(`${onPostgres.url}/bench/queries`);
        await action();
        return ((await (await fetch(`${onPostgres.url}/bench/queries`)).json()) as { queries: number }).queries;
      };
      const pgLinkTrips = await statements(() => load(onPostgres.url, linkRequest('postgres'), { amount: COUNTED_REQUESTS }));
      const pgCounted = await takeTokens(onPostgres.url);
      const pgVerifyTrips = await statements(() => load(onPostgres.url, verifyRequest('postgres', pgCounted), { amount: pgCounted.length }));
      linkCases.find((c) => c.mode === 'postgres')!.postgresRoundTripsPerRequest = pgLinkTrips / COUNTED_REQUESTS;
      verifyCases.find((c) => c.mode === 'postgres')!.postgresRoundTripsPerRequest = pgVerifyTrips / pgCounted.length;
    }
    // Listed by mode, request-link before verify.
    const cases = MODES.flatMap((mode) => [...linkCases, ...verifyCases].filter((c) => c.mode === mode));
    return { cases, redisGrowth };
  } finally {
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all(others.map((other) => other.destroy()));
  }
}

/** Bytes per outstanding link at rest (`bench/footprint.ts`), in a process of its own. */
function footprint(what: 'heap' | 'redis' | 'postgres' | 'cap', env: Record<string, string> = {}): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/footprint.ts', what, String(FOOTPRINT_LINKS)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(output) as Record<string, number>) : reject(new Error(`${what} footprint exited with ${code}`)),
    );
  });
}

/** Issues FOOTPRINT_LINKS links into PostgreSQL through the real handler (`bench/footprint.ts`); returns how many. */
async function footprintPostgres(url: string): Promise<number> {
  return (await footprint('postgres', { DATABASE_URL: url })).links!;
}

const started = Date.now();
const redis = await RedisServer.start();
// redis-wait: a primary of its own with one replica, for `waitForReplicas: 1` (WAIT pipelined with each redeem).
const primary = await RedisServer.start();
const replica = await RedisServer.start(['--replicaof', '127.0.0.1', String(primary.port)]);
// A cluster of its own; fsync off (the disk is not what is measured), every commit still written to the WAL.
const postgres = WITH_POSTGRES ? await PostgresServer.start() : undefined;
let results: CaseResult[];
let redisGrowth: ReturnType<typeof usedMemoryPerRequest>;
try {
  ({ cases: results, redisGrowth } = await runAll(redis, primary, postgres));
} catch (error) {
  await postgres?.destroy(); // stopped below after a run that got this far
  throw error;
} finally {
  await Promise.all([redis.destroy(), replica.destroy(), primary.destroy()]);
}
// PostgreSQL per outstanding link: the library's tables and indexes, in a database holding nothing else.
let postgresFootprint: { bytesPerLink: number; links: number } | undefined;
if (postgres)
  try {
    progress('measuring PostgreSQL bytes per outstanding link');
    const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
    pool.on('error', (error) => progress(`PostgreSQL: an idle client ended (${error.message})`));
    await pool.query('TRUNCATE magic_link_links, magic_link_emails, magic_link_limits');
    const size = async () =>
      Number(
        (
          await pool.query<{ bytes: string }>(
            // The links and the addresses' state; the limit counters expire with their window, as on Redis.
            "SELECT (pg_total_relation_size('magic_link_links') + pg_total_relation_size('magic_link_emails'))::bigint AS bytes",
          )
        ).rows[0]!.bytes,
      );
    const before = await size();
    const issued = Number(await footprintPostgres(postgres.url));
    postgresFootprint = { bytesPerLink: Math.round(((await size()) - before) / issued), links: issued };
    await pool.end();
  } finally {
    await postgres.destroy();
  }
// Both at once, each in a process of its own: memory figures do not depend on CPU time. The Redis
// one gets a server of its own, so nothing but its links is in it.
const footprintRedis = await RedisServer.start();
let heap: Record<string, number>;
let redisFootprint: Record<string, number>;
try {
  progress('measuring memory per outstanding link (heap and Redis)');
  [heap, redisFootprint] = await Promise.all([footprint('heap'), footprint('redis', { REDIS_URL: footprintRedis.url })]);
} finally {
  await footprintRedis.destroy();
}

progress('measuring the memory store at its cap');
const cap = await footprint('cap');
for (const result of results) {
  const bare = results.find((r) => r.mode === 'bare' && r.flow === result.flow)!;
  result.ratioToBare = Number((result.requestsPerSecond / bare.requestsPerSecond).toFixed(2));
  const floor = results.find((r) => r.mode === 'floor');
  if (floor && result.flow === 'verify' && result.mode !== 'bare')
    result.ratioToFloor = Number((result.requestsPerSecond / floor.requestsPerSecond).toFixed(2));
  result.p99RatioToBare = Number((result.p99Ms / Math.max(bare.p99Ms, 1)).toFixed(2));
}

const redisVersion = /v=([\d.]+)/.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, Redis ${redisVersion}`;

const header = '| case | req/s | ratio to bare | ratio to floor | p50 ms | p99 ms | p99 vs bare | errors | non-2xx | Redis cmds/req | round trips/req |';
const lines = [header, '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
for (const r of results) {
  lines.push(
    `| ${r.case} | ${r.requestsPerSecond} | ${r.ratioToBare} | ${r.ratioToFloor ?? ''} | ${r.p50Ms} | ${r.p99Ms} | ${r.p99RatioToBare} | ${r.errors} | ${r.non2xx} | ${r.redisCommandsPerRequest?.toFixed(2) ?? ''} | ${(r.redisRoundTripsPerRequest ?? r.postgresRoundTripsPerRequest)?.toFixed(2) ?? ''} |`,
  );
}
/** The figures every change is judged by: ratios within this run (see docs/performance.md). */
const rate = (mode: Mode, flow: Flow): number | undefined => results.find((r) => r.mode === mode && r.flow === flow)?.requestsPerSecond;
const ratio = (mode: Mode, flow: Flow, to: Mode): number | undefined => {
  const [a, b] = [rate(mode, flow), rate(to, flow)];
  return a === undefined || b === undefined ? undefined : Number((a / b).toFixed(2));
};
const ratios: Record<string, number | undefined> = {
  'request-link memory, sessions on the sign-in routes / bare': ratio('memory', 'request-link', 'bare'),
  'request-link memory, sessions app-wide (README layout) / bare': ratio('memory-app', 'request-link', 'bare'),
  'request-link Redis, sessions on the sign-in routes / bare': ratio('redis', 'request-link', 'bare'),
  'request-link Redis, sessions app-wide / bare': ratio('redis-app', 'request-link', 'bare'),
  'verify memory / floor': ratio('memory', 'verify', 'floor'),
  'verify memory, sessions app-wide / floor': ratio('memory-app', 'verify', 'floor'),
  'verify Redis / floor': ratio('redis', 'verify', 'floor'),
  'verify Redis, sessions app-wide / floor': ratio('redis-app', 'verify', 'floor'),
  'peer / us, request-link, sessions app-wide (memory)': ratio('peer', 'request-link', 'memory-app'),
  'better-auth (PostgreSQL) / us (PostgreSQL), request-link': ratio('better-auth', 'request-link', 'postgres'),
  'better-auth (PostgreSQL) / us (PostgreSQL), verify': ratio('better-auth', 'verify', 'postgres'),
  'better-auth (PostgreSQL) / us, request-link, sessions app-wide (memory)': ratio('better-auth', 'request-link', 'memory-app'),
  'Redis commands per verify (inside scripts included)': results.find((r) => r.case === 'redis verify')?.redisCommandsPerCountedRequest,
  'Redis commands per link request': results.find((r) => r.case === 'redis request-link')?.redisCommandsPerCountedRequest,
};
if (BEFORE_PACKAGE)
  for (const flow of ['request-link', 'verify'] as const)
    for (const mode of ['memory', 'memory-app', 'redis', 'redis-app', 'postgres'] as const)
      ratios[`${flow} ${mode}: today / before`] = ratio(mode, flow, `before:${mode}`);

const summary = {
  machine,
  ratios,
  durationSeconds: DURATION,
  rounds: ROUNDS,
  connections: CONNECTIONS,
  cases: results,
  redisBytesPerOutstandingLink: redisFootprint,
  redisGrowthPerLinkRequest: redisGrowth,
  postgresBytesPerOutstandingLink: postgresFootprint,
  memoryHeapBytesPerLink: heap,
  memoryStoreAtCap: cap,
  elapsedSeconds: Math.round((Date.now() - started) / 1000),
};
console.log(`\n${machine}; ${DURATION} s per case in ${ROUNDS} interleaved rounds, ${CONNECTIONS} connections\n`);
console.log(lines.join('\n'));
console.log(
  `\nRedis memory per outstanding link at ${FOOTPRINT_LINKS} links, each for a new address: ${redisFootprint.bytesPerLink} bytes of used_memory, ${redisFootprint.keysPerLink} key per link (MEMORY USAGE ${redisFootprint.memoryUsageOfALinkKey})`,
);
console.log(
  `Redis growth per link request in the timed run, with the new address's and new IP's limiter counters: ${redisGrowth?.bytesPerRequest} bytes (${redisGrowth?.emailStateKeys} email-state keys)`,
);
if (postgresFootprint)
  console.log(
    `PostgreSQL per outstanding link at ${postgresFootprint.links} links, each for a new address: ${postgresFootprint.bytesPerLink} bytes of pg_total_relation_size (the links and address tables with their indexes)`,
  );
console.log(`Heap per outstanding link on the memory store at ${FOOTPRINT_LINKS} links: ${JSON.stringify(heap)}`);
console.log(`Memory store saves at its cap of ${FOOTPRINT_LINKS} records: ${cap.microsPerSaveAtCap} µs each (${cap.microsPerSaveFarBelowCap} µs far below it)`);
console.log('\nRatios, within this run:');
for (const [name, value] of Object.entries(ratios)) if (value !== undefined) console.log(`- ${name}: ${Number(value.toFixed(2))}`);
console.log(`\nJSON summary:\n${JSON.stringify(summary)}`);
mkdirSync('.tmp', { recursive: true });
writeFileSync('.tmp/bench-summary.json', `${JSON.stringify(summary, null, 2)}\n`);
