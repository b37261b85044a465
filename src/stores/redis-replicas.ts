// Writes that count only once replicas hold them (`waitForReplicas`). Redis serves nothing else on a
// connection while a `WAIT` on it waits, so these writes never use the app's connection: they go over
// a few connections of their own (the script and its WAIT in one round trip). While replicas are not
// acknowledging, one write at a time finds out whether they are back; the others are refused at once,
// before they write anything, instead of each waiting out the timeout.
import type { RedisClient } from './redis-client.js';
import { untilReady } from './redis-client.js';
import { ReplicaAckError } from './store-errors.js';

/** Connections kept for durable writes: each carries one write (and its WAIT) at a time. */
const LANES = 4;

type QueuedScript = (...countThenKeysThenArgs: Array<string | number>) => unknown;

interface Lane {
  readonly client: RedisClient;
  busy: boolean;
}

export class ReplicaWaits {
  readonly #client: RedisClient;
  readonly #replicas: number;
  readonly #timeoutMs: number;
  readonly #readyTimeoutMs: number;
  readonly #prepare: (lane: RedisClient) => void;
  readonly #lanes: Lane[] = [];
  readonly #queue: Array<() => void> = [];
  /** When the last WAIT fell short (null: the last one was acknowledged). */
  #failedAt: number | null = null;
  #probing = false;
  #lastAcknowledged = 0;

  /** `prepare` defines the scripts on each new connection. */
  constructor(client: RedisClient, replicas: number, timeoutMs: number, readyTimeoutMs: number, prepare: (lane: RedisClient) => void) {
    this.#client = client;
    this.#replicas = replicas;
    this.#timeoutMs = timeoutMs;
    this.#readyTimeoutMs = readyTimeoutMs;
    this.#prepare = prepare;
    // These connections live only while the app's is up: they never reconnect on their own (a
    // client the app disconnected while it was reconnecting emits no 'end' to follow).
    const dropAll = (): void => {
      for (const lane of this.#lanes.splice(0)) if (lane.client !== client) lane.client.disconnect?.();
    };
    client.on?.('close', dropAll);
    client.on?.('end', dropAll);
  }

  /**
   * Runs a script, then waits for the replicas. A reply that `wrote` nothing is returned whatever
   * the replicas said; one that wrote counts only once they acknowledged it.
   */
  async send(command: string, keyCount: number, keysThenArgs: readonly string[], wrote: (reply: unknown) => boolean): Promise<unknown> {
    const lane = await this.#acquire();
    const probe = this.#failedAt !== null;
    if (probe) this.#probing = true;
    try {
      await untilReady(lane.client, this.#readyTimeoutMs);
      const pipeline = lane.client.pipeline();
      (pipeline as unknown as Record<string, QueuedScript>)[command]!.call(pipeline, keyCount, ...keysThenArgs);
      const results = await pipeline.wait(this.#replicas, this.#timeoutMs).exec();
      const [scriptError, reply] = results?.[0] ?? [new Error('the pipeline was not run'), null];
      if (scriptError) throw scriptError;
      const acknowledged = Number(results?.[1]?.[1] ?? 0);
      this.#lastAcknowledged = acknowledged;
      this.#failedAt = acknowledged < this.#replicas ? Date.now() : null;
      if (this.#failedAt !== null && wrote(reply)) throw new ReplicaAckError(this.#replicas, acknowledged);
      return reply;
    } finally {
      if (probe) this.#probing = false;
      lane.busy = false;
      this.#queue.shift()?.();
    }
  }

  /**
   * A free connection, else a turn in the queue. Refused at once while replicas are known not to
   * acknowledge: during a probe, and for a timeout's length after a shortfall (so each write waits
   * out at most one WAIT, including the writes that were queued behind the one that found out).
   */
  async #acquire(): Promise<Lane> {
    for (;;) {
      if (this.#failedAt !== null && (this.#probing || Date.now() - this.#failedAt < this.#timeoutMs)) {
        throw new ReplicaAckError(this.#replicas, this.#lastAcknowledged, true);
      }
      const lane = this.#freeLane();
      if (lane) {
        lane.busy = true;
        return lane;
      }
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    }
  }

  #freeLane(): Lane | undefined {
    const idle = this.#lanes.find((lane) => !lane.busy);
    if (idle || this.#lanes.length >= LANES) return idle;
    // A client that cannot open a second connection (no `duplicate`) waits on the app's own, alone.
    const client = this.#client.duplicate?.() ?? (this.#lanes.length === 0 ? this.#client : undefined);
    if (!client) return undefined;
    if (client !== this.#client) {
      // Its faults are the app connection's faults, which the app's own `error` listener reports.
      client.on?.('error', () => undefined);
      this.#prepare(client);
    }
    const lane: Lane = { client, busy: false };
    if (client !== this.#client) {
      client.on?.('close', () => {
        client.disconnect?.();
        const at = this.#lanes.indexOf(lane);
        if (at !== -1) this.#lanes.splice(at, 1);
      });
    }
    this.#lanes.push(lane);
    return lane;
  }
}
