// Throwaway PostgreSQL clusters for the tests: `initdb` into a temporary directory, a free port, no
// fsync unless durability is under test, stopped by PID at the end. Tests never touch the machine's
// own server on 5432.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server.js';

/** Where the server binaries are: on the PATH, or Debian's versioned directory. */
function binary(name: string): string {
  if (spawnSync(name, ['--version']).status === 0) return name;
  for (const version of ['17', '16', '15', '14', '13']) {
    const path = `/usr/lib/postgresql/${version}/bin/${name}`;
    if (spawnSync(path, ['--version']).status === 0) return path;
  }
  throw new Error(`no \`${name}\` on this machine: install PostgreSQL (apt-get install postgresql)`);
}

/** initdb and postgres refuse to run as root: run them as the `postgres` user then. */
function asOwner(): Pick<SpawnOptions, 'uid' | 'gid'> {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

export interface PostgresServerOptions {
  /** Keep fsync on (durability under test). Default off, for speed. */
  fsync?: boolean;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>;
}

export class PostgresServer {
  readonly port: number;
  readonly dir: string;
  readonly #settings: Record<string, string>;
  readonly #owner = asOwner();
  #process: ChildProcess | undefined;

  private constructor(port: number, dir: string, settings: Record<string, string>) {
    this.port = port;
    this.dir = dir;
    this.#settings = settings;
  }

  static async start(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const dir = mkdtempSync(join(tmpdir(), 'eml-pg-'));
    const owner = asOwner();
    if (owner.uid !== undefined) chownSync(dir, owner.uid, owner.gid!);
    const data = join(dir, 'data');
    const init = spawnSync(binary('initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale', 'C'], {
      encoding: 'utf8',
      ...owner,
    });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    // fsync off only: each commit is still written to the WAL before it is answered, so a crash of the
    // server process (not of the machine) keeps every answered commit.
    const settings = { fsync: options.fsync ? 'on' : 'off', full_page_writes: options.fsync ? 'on' : 'off', ...options.settings };
    const server = new PostgresServer(await freePort(), dir, settings);
    await server.resume();
    return server;
  }

  /**
   * A streaming standby of `primary` (pg_basebackup -R), on a port of its own. `synchronous` makes it
   * the primary's synchronous standby (`synchronous_standby_names`).
   */
  static async standbyOf(primary: PostgresServer): Promise<PostgresServer> {
    const dir = mkdtempSync(join(tmpdir(), 'eml-pg-standby-'));
    const owner = asOwner();
    if (owner.uid !== undefined) chownSync(dir, owner.uid, owner.gid!);
    const backup = spawnSync(
      binary('pg_basebackup'),
      ['-D', join(dir, 'data'), '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-R', '-X', 'stream', '--no-sync'],
      {
        encoding: 'utf8',
        ...owner,
      },
    );
    if (backup.status !== 0) throw new Error(`pg_basebackup failed: ${backup.stderr}`);
    const server = new PostgresServer(await freePort(), dir, { ...primary.#settings, hot_standby: 'on', cluster_name: 'standby' });
    await server.resume();
    return server;
  }

  /** Pids of this server's processes whose command line names `what` (e.g. `walreceiver`). */
  processes(what: string): number[] {
    const pid = this.#process?.pid;
    if (pid === undefined) return [];
    const children = spawnSync('pgrep', ['-P', String(pid), '-f', what], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean);
    return children.map(Number);
  }

  /** Sets a server parameter and reloads the configuration. */
  configure(name: string, value: string): void {
    this.psql(`ALTER SYSTEM SET ${name} = '${value}'`);
    this.psql('SELECT pg_reload_conf()');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get running(): boolean {
    return this.#process !== undefined;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /** Starts (again) on the same port and data directory: what was committed is still there. */
  async resume(): Promise<void> {
    if (this.#process) return;
    const args = ['-D', join(this.dir, 'data'), '-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1'];
    for (const [name, value] of Object.entries(this.#settings)) args.push('-c', `${name}=${value}`);
    const child = spawn(binary('postgres'), args, { stdio: 'ignore', ...this.#owner });
    this.#process = child;
    child.on('exit', () => {
      if (this.#process === child) this.#process = undefined;
    });
    const deadline = Date.now() + 20_000;
    while (spawnSync(binary('pg_isready'), ['-h', '127.0.0.1', '-p', String(this.port), '-q']).status !== 0) {
      if (!this.#process) throw new Error('postgres exited while starting');
      if (Date.now() > deadline) throw new Error(`timed out waiting for postgres on ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Stops the server by its PID. `immediate` (SIGQUIT) is a crash as far as clients see it: every
   * connection is cut at once, nothing is flushed; what was committed stays (the WAL).
   */
  async stop(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    const child = this.#process;
    if (!child) return;
    this.#process = undefined;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
    });
  }

  /** Freezes every process of the server (SIGSTOP): connections stay open and statements hang. */
  pause(): void {
    this.#signalAll('SIGSTOP');
  }

  resumeFromPause(): void {
    this.#signalAll('SIGCONT');
  }

  #signalAll(signal: NodeJS.Signals): void {
    const pid = this.#process?.pid;
    if (pid === undefined) return;
    const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number);
    for (const each of [pid, ...children]) {
      try {
        process.kill(each, signal);
      } catch {
        // exited meanwhile
      }
    }
  }

  /** psql against this server; bounded, so a frozen server answers '' instead of hanging the test. */
  psql(sql: string): string {
    const result = spawnSync(
      binary('psql'),
      ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-d', 'postgres', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
    return result.stdout.trim();
  }

  async destroy(): Promise<void> {
    await this.stop('fast');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
