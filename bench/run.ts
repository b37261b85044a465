// `npm run bench`: request-link and verify on the memory store, on Redis, as a bare Express route
// (the ceiling) and with passport-magic-login (the best-known peer), each for a fixed time at a
// fixed concurrency, all in one run on loopback. Prints a table and a JSON summary.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import autocannon from 'autocannon';
import { RedisServer } from '../test/helpers/redis-server.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const FOOTPRINT_LINKS = Number(process.env.BENCH_FOOTPRINT_LINKS ?? 100_000);

type Mode = 'bare' | 'floor' | 'memory' | 'redis' | 'peer';
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
}

function startServer(mode: Mode, env: Record<string, string> = {}): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts', mode], { env: { ...process.env, ...env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error(`${mode} server did not start`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /ready (\d+)/.exec(chunk.toString());
      if (match) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${match[1]}`, child });
      }
    });
  });
}

let sequence = 0;
/** Every link request names a new address from a new IP, so the limits never decide the result. */
function linkRequest(mode: Mode): autocannon.Request {
  const peer = mode === 'peer';
  return {
    method: 'POST',
    path: peer ? '/auth/magiclogin' : '/v1/auth/magic-link',
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
  if (mode === 'peer') {
    return { method: 'GET', path: '/auth/magiclogin/callback', setupRequest: (req) => ({ ...req, path: `/auth/magiclogin/callback?token=${take()}` }) };
  }
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

async function takeTokens(url: string): Promise<string[]> {
  return ((await (await fetch(`${url}/bench/tokens`)).json()) as { tokens: string[] }).tokens;
}

function commandStats(redis: RedisServer): { commands: number; roundTrips: number } {
  let commands = 0;
  let roundTrips = 0;
  for (const [, name, calls] of redis.cli('info', 'commandstats').matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) {
    if (/^(info|config)/.test(name!)) continue;
    commands += Number(calls);
    // What crossed the network: a script, a MULTI…EXEC block, or the lone GET of the failed-verify
    // check; the commands run inside scripts and transactions did not.
    if (['evalsha', 'eval', 'exec', 'get'].includes(name!)) roundTrips += Number(calls);
  }
  return { commands, roundTrips };
}

function summarise(name: string, mode: Mode, flow: Flow, result: autocannon.Result): CaseResult {
  return {
    case: name,
    mode,
    flow,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
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

async function runMode(mode: Mode, redis?: RedisServer): Promise<{ cases: CaseResult[]; redisGrowth?: ReturnType<typeof usedMemoryPerRequest> }> {
  const { url, child } = await startServer(mode, redis ? { REDIS_URL: redis.url } : {});
  try {
    const cases: CaseResult[] = [];
    const hasTokens = mode !== 'bare' && mode !== 'floor';
    let redisGrowth: ReturnType<typeof usedMemoryPerRequest> | undefined;
    let linkRate = 0;
    if (mode === 'floor') {
      // The floor only signs in; warm it up on that.
      await load(url, verifyRequest(mode, []), { amount: 500 });
    } else {
      // Warm up: JIT, script loading, connection pools.
      await load(url, linkRequest(mode), { amount: 500 });
      if (hasTokens) await takeTokens(url);
      const usedBefore = redis ? usedMemory(redis) : 0;
      redis?.cli('config', 'resetstat');
      const link = await load(url, linkRequest(mode), { duration: DURATION });
      const linkCase = summarise(`${mode} request-link`, mode, 'request-link', link);
      if (redis) {
        const stats = commandStats(redis);
        linkCase.redisCommandsPerRequest = stats.commands / link.requests.total;
        linkCase.redisRoundTripsPerRequest = stats.roundTrips / link.requests.total;
        redisGrowth = usedMemoryPerRequest(redis, usedBefore, link.requests.total);
      }
      cases.push(linkCase);
      linkRate = linkCase.requestsPerSecond;
    }

    // Verify redeems fresh tokens: those the timed run issued, topped up to outlast the verify run.
    let tokens = hasTokens ? await takeTokens(url) : [];
    if (hasTokens) {
      const wanted = Math.ceil(linkRate * DURATION * 2) + 1_000;
      if (tokens.length < wanted) {
        await load(url, linkRequest(mode), { amount: wanted - tokens.length });
        tokens = tokens.concat(await takeTokens(url));
      }
    }
    redis?.cli('config', 'resetstat');
    const verify = await load(url, verifyRequest(mode, tokens), { duration: DURATION });
    const verifyCase = summarise(`${mode} verify`, mode, 'verify', verify);
    if (redis) {
      const stats = commandStats(redis);
      verifyCase.redisCommandsPerRequest = stats.commands / verify.requests.total;
      verifyCase.redisRoundTripsPerRequest = stats.roundTrips / verify.requests.total;
    }
    if (hasTokens && verify.requests.total > tokens.length) console.warn(`${mode} verify ran out of fresh tokens`);
    cases.push(verifyCase);
    return { cases, redisGrowth };
  } finally {
    child.kill('SIGTERM');
  }
}

/** Bytes per outstanding link at rest (`bench/footprint.ts`), in a process of its own. */
function footprint(what: 'heap' | 'redis', env: Record<string, string> = {}): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/footprint.ts', what, String(FOOTPRINT_LINKS)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(output) as Record<string, number>) : reject(new Error(`${what} footprint exited with ${code}`))));
  });
}

const started = Date.now();
const redis = await RedisServer.start();
const results: CaseResult[] = [];
let redisGrowth: ReturnType<typeof usedMemoryPerRequest> | undefined;
try {
  for (const mode of ['bare', 'floor', 'memory', 'redis', 'peer'] as const) {
    const run = await runMode(mode, mode === 'redis' ? redis : undefined);
    results.push(...run.cases);
    redisGrowth ??= run.redisGrowth;
  }
} finally {
  await redis.destroy();
}
// Both at once, each in a process of its own: memory figures do not depend on CPU time. The Redis
// one gets a server of its own, so nothing but its links is in it.
const footprintRedis = await RedisServer.start();
let heap: Record<string, number>;
let redisFootprint: Record<string, number>;
try {
  [heap, redisFootprint] = await Promise.all([footprint('heap'), footprint('redis', { REDIS_URL: footprintRedis.url })]);
} finally {
  await footprintRedis.destroy();
}

for (const result of results) {
  const bare = results.find((r) => r.mode === 'bare' && r.flow === result.flow)!;
  result.ratioToBare = Number((result.requestsPerSecond / bare.requestsPerSecond).toFixed(2));
  const floor = results.find((r) => r.mode === 'floor');
  if (floor && result.flow === 'verify' && result.mode !== 'bare') result.ratioToFloor = Number((result.requestsPerSecond / floor.requestsPerSecond).toFixed(2));
  result.p99RatioToBare = Number((result.p99Ms / Math.max(bare.p99Ms, 1)).toFixed(2));
}

const redisVersion = /v=([\d.]+)/.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, Redis ${redisVersion}`;

const header = '| case | req/s | ratio to bare | ratio to floor | p50 ms | p99 ms | p99 vs bare | errors | non-2xx | Redis cmds/req | Redis round trips/req |';
const lines = [header, '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
for (const r of results) {
  lines.push(
    `| ${r.case} | ${r.requestsPerSecond} | ${r.ratioToBare} | ${r.ratioToFloor ?? ''} | ${r.p50Ms} | ${r.p99Ms} | ${r.p99RatioToBare} | ${r.errors} | ${r.non2xx} | ${r.redisCommandsPerRequest?.toFixed(2) ?? ''} | ${r.redisRoundTripsPerRequest?.toFixed(2) ?? ''} |`,
  );
}
const summary = {
  machine,
  durationSeconds: DURATION,
  connections: CONNECTIONS,
  cases: results,
  redisBytesPerOutstandingLink: redisFootprint,
  redisGrowthPerLinkRequest: redisGrowth,
  memoryHeapBytesPerLink: heap,
  elapsedSeconds: Math.round((Date.now() - started) / 1000),
};
console.log(`\n${machine}; ${DURATION} s per case, ${CONNECTIONS} connections\n`);
console.log(lines.join('\n'));
console.log(
  `\nRedis memory per outstanding link at ${FOOTPRINT_LINKS} links, each for a new address: ${redisFootprint.bytesPerLink} bytes of used_memory, ${redisFootprint.keysPerLink} key per link (MEMORY USAGE ${redisFootprint.memoryUsageOfALinkKey})`,
);
console.log(
  `Redis growth per link request in the timed run, with the new address's and new IP's limiter counters: ${redisGrowth?.bytesPerRequest} bytes (${redisGrowth?.emailStateKeys} email-state keys)`,
);
console.log(`Heap per outstanding link on the memory store at ${FOOTPRINT_LINKS} links: ${JSON.stringify(heap)}`);
console.log(`\nJSON summary:\n${JSON.stringify(summary)}`);
mkdirSync('.tmp', { recursive: true });
writeFileSync('.tmp/bench-summary.json', `${JSON.stringify(summary, null, 2)}\n`);
