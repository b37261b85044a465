// Throwaway redis-server processes for the tests: free ports, no persistence, stopped at the end.
// Tests never touch a Redis they did not start.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The servers of the Redis matrix this machine has: redis-server always, Valkey where `valkey-server`
 * is installed (Debian 12 has no package for it). `skipped` says why one is missing.
 */
export function serverMatrix(): { available: Array<{ name: string; binary: string }>; skipped: string[] } {
  const valkey = process.env.VALKEY_SERVER ?? 'valkey-server';
  const found = spawnSync(valkey, ['--version'], { encoding: 'utf8' });
  return found.status === 0
    ? {
        available: [
          { name: 'Redis', binary: 'redis-server' },
          {
            name: `Valkey (${
              found.stdout
                .trim()
                .split(' ')
                .find((w) => w.startsWith('v=')) ?? 'unknown version'
            })`,
            binary: valkey,
          },
        ],
        skipped: [],
      }
    : {
        available: [{ name: 'Redis', binary: 'redis-server' }],
        skipped: [`Valkey: no \`${valkey}\` on this machine (set VALKEY_SERVER to its path to include it)`],
      };
}

function ping(port: number): boolean {
  const result = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8', timeout: 2_000 });
  return result.stdout.trim() === 'PONG';
}

async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export class RedisServer {
  #process: ChildProcess | undefined;
  readonly port: number;
  readonly #dir: string;
  readonly #extraArgs: string[];
  readonly #binary: string;
  #paused = false;

  private constructor(port: number, extraArgs: string[], binary: string) {
    this.port = port;
    this.#dir = mkdtempSync(join(tmpdir(), 'eml-redis-'));
    this.#extraArgs = extraArgs;
    this.#binary = binary;
  }

  /** `binary`: redis-server, or valkey-server (same options). */
  static async start(extraArgs: string[] = [], binary = 'redis-server'): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), extraArgs, binary);
    await server.resume();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#process !== undefined;
  }

  /** Where it keeps its files (dump.rdb, the AOF): a backup is a copy of them. */
  get dir(): string {
    return this.#dir;
  }

  /** Frozen by `pause()`: its process is there but answers nothing. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Starts (again) on the same port, empty. */
  async resume(): Promise<void> {
    if (this.#process) return;
    const child = spawn(
      this.#binary,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.#dir, '--loglevel', 'warning', ...this.#extraArgs],
      { stdio: 'ignore' },
    );
    this.#process = child;
    child.on('exit', () => {
      if (this.#process === child) this.#process = undefined;
    });
    await waitFor(() => ping(this.port), `redis-server on ${this.port}`);
  }

  /** Kills the server, as an outage would. */
  async stop(): Promise<void> {
    const child = this.#process;
    if (!child) return;
    this.#process = undefined;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Freezes the server (SIGSTOP): connections stay open and commands hang, as on a stuck host. */
  pause(): void {
    this.#process?.kill('SIGSTOP');
    this.#paused = this.#process !== undefined;
  }

  resumeFromPause(): void {
    this.#process?.kill('SIGCONT');
    this.#paused = false;
  }

  /** redis-cli against this server; bounded, so a frozen server answers '' instead of hanging the test. */
  cli(...args: string[]): string {
    return spawnSync('redis-cli', ['-p', String(this.port), ...args], { encoding: 'utf8', timeout: 5_000 }).stdout ?? '';
  }

  /**
   * Runs `action` under MONITOR and counts the round trips clients made: every command a client sent,
   * with a MULTI…EXEC block as one; what scripts run inside Redis is not a round trip. (MONITOR slows
   * Redis down: for counting, never for timing.)
   */
  async roundTrips(action: () => Promise<unknown>): Promise<number> {
    const monitor = spawn('redis-cli', ['-p', String(this.port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    monitor.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(() => output.startsWith('OK'), 'MONITOR');
    try {
      await action();
      // MONITOR lines arrive asynchronously; a ping marks the end of what the action sent.
      this.cli('ping');
      await waitFor(() => output.includes('"ping"'), 'the end of MONITOR output');
    } finally {
      monitor.kill();
    }
    let trips = 0;
    const inTransaction = new Set<string>();
    for (const [, client, command] of output.matchAll(/^[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/gm)) {
      const name = command!.toLowerCase();
      if (client === 'lua' || name === 'ping') continue;
      if (inTransaction.has(client!)) {
        if (name === 'exec' || name === 'discard') inTransaction.delete(client!);
        continue;
      }
      if (name === 'multi') inTransaction.add(client!);
      trips++;
    }
    return trips;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * A local Redis Cluster of three masters, with one replica each when asked. Quick to notice a dead or
 * frozen master (2 s node timeout); replicas sync without a delay.
 */
export class RedisCluster {
  readonly nodes: RedisServer[];

  private constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  static async start(options: { replicas?: 0 | 1; extraArgs?: string[] } = {}): Promise<RedisCluster> {
    const replicas = options.replicas ?? 0;
    const nodes: RedisServer[] = [];
    for (let i = 0; i < 3 * (1 + replicas); i++) {
      const port = await freePort();
      nodes.push(
        await RedisServer.start([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
          '--repl-diskless-sync',
          'yes',
          '--repl-diskless-sync-delay',
          '0',
          ...(options.extraArgs ?? []),
        ]),
      );
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    const cluster = new RedisCluster(nodes);
    await waitFor(() => nodes.every((n) => /cluster_state:ok/.test(n.cli('cluster', 'info'))), 'cluster_state:ok', 20_000);
    if (replicas > 0) await cluster.waitForReplicas(30_000);
    return cluster;
  }

  get startupNodes(): Array<{ host: string; port: number }> {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  /** The running nodes that are masters now (by their own INFO). */
  masters(): RedisServer[] {
    return this.nodes.filter((n) => n.running && !n.paused && /role:master/.test(n.cli('info', 'replication')));
  }

  /** Until every slot is served and every master has a replica in sync. */
  async waitForReplicas(ms = 60_000): Promise<void> {
    await waitFor(
      () => {
        const masters = this.masters();
        return (
          masters.length === 3 &&
          masters.every((m) => /cluster_state:ok/.test(m.cli('cluster', 'info')) && /connected_slaves:[1-9]/.test(m.cli('info', 'replication'))) &&
          this.nodes
            .filter((n) => n.running && !n.paused && !masters.includes(n))
            .every((r) => {
              // Linked, done with the full sync, and at its master's offset (dbsize alone can lag).
              const info = r.cli('info', 'replication');
              const master = masters.find((m) => info.includes(`master_port:${m.port}`));
              const offset = (text: string) => /master_repl_offset:(\d+)/.exec(text)?.[1];
              return (
                /master_link_status:up/.test(info) &&
                /master_sync_in_progress:0/.test(info) &&
                master !== undefined &&
                offset(info) === offset(master.cli('info', 'replication'))
              );
            })
        );
      },
      'every master with a replica in sync',
      ms,
    );
  }

  /** Until `node`'s slots are served by another node (its replica was promoted). */
  async waitForFailover(node: RedisServer, ms = 30_000): Promise<void> {
    const others = this.nodes.filter((n) => n !== node && n.running && !n.paused);
    await waitFor(
      () => others.every((n) => /cluster_state:ok/.test(n.cli('cluster', 'info'))) && this.masters().filter((m) => m !== node).length === 3,
      `failover of ${node.port}`,
      ms,
    );
  }

  async destroy(): Promise<void> {
    for (const node of this.nodes) node.resumeFromPause();
    await Promise.all(this.nodes.map((n) => n.destroy()));
  }
}

/**
 * A Sentinel group of its own: one master, one replica and three sentinels on free ports, quick to
 * notice a dead or frozen master (1 s) and to fail over.
 */
export class RedisSentinelGroup {
  readonly master: RedisServer;
  readonly replica: RedisServer;
  readonly sentinelPorts: number[];
  readonly #sentinels: ChildProcess[];
  readonly #dir: string;

  private constructor(master: RedisServer, replica: RedisServer, ports: number[], sentinels: ChildProcess[], dir: string) {
    this.master = master;
    this.replica = replica;
    this.sentinelPorts = ports;
    this.#sentinels = sentinels;
    this.#dir = dir;
  }

  static async start(name = 'ml'): Promise<RedisSentinelGroup> {
    // Every node refuses writes as master without a replica in sync: the recipe's setting, in each
    // node's own configuration (Sentinel does not carry it over on a failover).
    // And AOF, as the recipe says: a killed master that restarts empty could otherwise be the node
    // everyone resyncs from (a restart without persistence can wipe the data set; seen once locally).
    const recipe = ['--min-replicas-to-write', '1', '--min-replicas-max-lag', '2', '--appendonly', 'yes', '--appendfsync', 'everysec'];
    const master = await RedisServer.start(recipe);
    const replica = await RedisServer.start([...recipe, '--replicaof', '127.0.0.1', String(master.port)]);
    await waitFor(() => /master_link_status:up/.test(replica.cli('info', 'replication')), 'replica in sync');
    const dir = mkdtempSync(join(tmpdir(), 'ml-sentinel-'));
    const ports: number[] = [];
    const sentinels: ChildProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const file = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 3000`,
          `sentinel parallel-syncs ${name} 1`,
        ].join('\n'),
      );
      sentinels.push(spawn('redis-server', [file, '--sentinel', '--loglevel', 'warning'], { stdio: 'ignore' }));
      ports.push(port);
      await waitFor(() => ping(port), `sentinel on ${port}`);
    }
    return new RedisSentinelGroup(master, replica, ports, sentinels, dir);
  }

  /** redis-cli against the first sentinel. */
  sentinel(...args: string[]): string {
    return spawnSync('redis-cli', ['-p', String(this.sentinelPorts[0]), ...args], { encoding: 'utf8', timeout: 5_000 }).stdout ?? '';
  }

  /** The master's port as the sentinels report it now. */
  masterPort(name = 'ml'): number {
    const reply = spawnSync('redis-cli', ['-p', String(this.sentinelPorts[0]), 'sentinel', 'get-master-addr-by-name', name], { encoding: 'utf8' }).stdout;
    return Number(reply.trim().split('\n')[1]);
  }

  async waitForMaster(port: number, ms = 30_000): Promise<void> {
    await waitFor(() => this.masterPort() === port, `sentinels to promote ${port}`, ms);
  }

  /** Until the current master has a replica in sync again (with min-replicas-to-write it refuses writes before). */
  async waitForGoodReplica(ms = 90_000): Promise<void> {
    // Asked afresh on every poll: right after the old node restarts, a sentinel can still name it.
    const current = () => [this.master, this.replica].find((node) => node.port === this.masterPort());
    try {
      await waitFor(() => /min_slaves_good_slaves:[1-9]/.test(current()?.cli('info', 'replication') ?? ''), 'a replica in sync with the new master', ms);
    } catch (error) {
      // What each node and a sentinel say, so that a failure in CI can be read.
      const state = [this.master, this.replica].map((node) => `${node.port}: ${node.cli('info', 'replication').replace(/\r?\n/g, ' ')}`);
      const sentinel = spawnSync('redis-cli', ['-p', String(this.sentinelPorts[0]), 'sentinel', 'replicas', 'ml'], { encoding: 'utf8', timeout: 5_000 }).stdout;
      throw new Error(`${(error as Error).message}\n${state.join('\n')}\nsentinel: ${sentinel.replace(/\n/g, ' ')}`);
    }
  }

  async destroy(): Promise<void> {
    for (const sentinel of this.#sentinels) sentinel.kill('SIGKILL');
    this.master.resumeFromPause();
    await this.master.destroy();
    await this.replica.destroy();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
