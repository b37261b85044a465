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
const HEAP_LINKS = Number(process.env.BENCH_HEAP_LINKS ?? 100_000);

type Mode = 'bare' | 'memory' | 'redis' | 'peer';
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

/** MEMORY USAGE of a sample of link keys and of the per-address code hashes that go with them. */
function linkFootprint(redis: RedisServer): { linkKeyBytes: number; codeHashBytes: number } {
  const sample = (pattern: string) => {
    const keys = redis.cli('--scan', '--pattern', pattern).trim().split('\n').filter(Boolean).slice(0, 100);
    const sizes = keys.map((key) => Number(redis.cli('memory', 'usage', key).trim()));
    return Math.round(sizes.reduce((a, b) => a + b, 0) / Math.max(sizes.length, 1));
  };
  return { linkKeyBytes: sample('ml:{*}:l:*'), codeHashBytes: sample('ml:{*}:e:*') };
}

let footprint: { linkKeyBytes: number; codeHashBytes: number } | undefined;

async function runMode(mode: Mode, redis?: RedisServer): Promise<{ cases: CaseResult[]; redisBytesPerLink?: number }> {
  const { url, child } = await startServer(mode, redis ? { REDIS_URL: redis.url } : {});
  try {
    const cases: CaseResult[] = [];
    // Warm up: JIT, script loading, connection pools.
    await load(url, linkRequest(mode), { amount: 500 });
    if (mode !== 'bare') await takeTokens(url);
    const usedBefore = redis ? Number(/used_memory:(\d+)/.exec(redis.cli('info', 'memory'))![1]) : 0;
    redis?.cli('config', 'resetstat');
    const link = await load(url, linkRequest(mode), { duration: DURATION });
    const linkCase = summarise(`${mode} request-link`, mode, 'request-link', link);
    let redisBytesPerLink: number | undefined;
    if (redis) {
      const stats = commandStats(redis);
      linkCase.redisCommandsPerRequest = stats.commands / link.requests.total;
      linkCase.redisRoundTripsPerRequest = stats.roundTrips / link.requests.total;
      redisBytesPerLink = (Number(/used_memory:(\d+)/.exec(redis.cli('info', 'memory'))![1]) - usedBefore) / link.requests.total;
      footprint = linkFootprint(redis);
    }
    cases.push(linkCase);

    // Verify redeems fresh tokens: those the timed run issued, topped up to outlast the verify run.
    let tokens = mode === 'bare' ? [] : await takeTokens(url);
    if (mode !== 'bare') {
      const wanted = Math.ceil(linkCase.requestsPerSecond * DURATION * 2) + 1_000;
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
    if (mode !== 'bare' && verify.requests.total > tokens.length) console.warn(`${mode} verify ran out of fresh tokens`);
    cases.push(verifyCase);
    return { cases, redisBytesPerLink };
  } finally {
    child.kill('SIGTERM');
  }
}

/** Heap bytes per outstanding link on the memory store, in a process of its own. */
function heapPerLink(): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/heap.ts', String(HEAP_LINKS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(output) as Record<string, number>) : reject(new Error(`heap measurement exited with ${code}`))));
  });
}

const started = Date.now();
const redis = await RedisServer.start();
const results: CaseResult[] = [];
let redisBytesPerLink: number | undefined;
try {
  for (const mode of ['bare', 'memory', 'redis', 'peer'] as const) {
    const run = await runMode(mode, mode === 'redis' ? redis : undefined);
    results.push(...run.cases);
    if (run.redisBytesPerLink !== undefined) redisBytesPerLink = run.redisBytesPerLink;
  }
} finally {
  await redis.destroy();
}
const heap = await heapPerLink();

for (const result of results) {
  const bare = results.find((r) => r.mode === 'bare' && r.flow === result.flow)!;
  result.ratioToBare = Number((result.requestsPerSecond / bare.requestsPerSecond).toFixed(2));
  result.p99RatioToBare = Number((result.p99Ms / Math.max(bare.p99Ms, 1)).toFixed(2));
}

const redisVersion = /v=([\d.]+)/.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, Redis ${redisVersion}`;

const header = '| case | req/s | ratio to bare | p50 ms | p99 ms | p99 vs bare | errors | non-2xx | Redis cmds/req | Redis round trips/req |';
const lines = [header, '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
for (const r of results) {
  lines.push(
    `| ${r.case} | ${r.requestsPerSecond} | ${r.ratioToBare} | ${r.p50Ms} | ${r.p99Ms} | ${r.p99RatioToBare} | ${r.errors} | ${r.non2xx} | ${r.redisCommandsPerRequest?.toFixed(2) ?? ''} | ${r.redisRoundTripsPerRequest?.toFixed(2) ?? ''} |`,
  );
}
const summary = {
  machine,
  durationSeconds: DURATION,
  connections: CONNECTIONS,
  cases: results,
  redisBytesPerLink: redisBytesPerLink && Math.round(redisBytesPerLink),
  redisLinkFootprint: footprint,
  memoryHeapBytesPerLink: heap,
  elapsedSeconds: Math.round((Date.now() - started) / 1000),
};
console.log(`\n${machine}; ${DURATION} s per case, ${CONNECTIONS} connections\n`);
console.log(lines.join('\n'));
console.log(`\nRedis memory per outstanding link (new address and IP each, limiter keys included): ${summary.redisBytesPerLink} bytes`);
console.log(`Redis MEMORY USAGE: link key ${footprint?.linkKeyBytes} bytes, an address's code hash ${footprint?.codeHashBytes} bytes`);
console.log(`Heap per outstanding link on the memory store at ${HEAP_LINKS} links: ${JSON.stringify(heap)}`);
console.log(`\nJSON summary:\n${JSON.stringify(summary)}`);
mkdirSync('.tmp', { recursive: true });
writeFileSync('.tmp/bench-summary.json', `${JSON.stringify(summary, null, 2)}\n`);
