// One clock for every time decision: the store server's. A shared store is reached by several app
// hosts whose clocks disagree; the server's is the one they all see. The store measures, from its
// round trips, how far the app's clock is from the server's (the offset) and how long
// its answers take to come back (the way back), sends its times already on the server's clock, and
// gives each write a deadline by which its answer can still reach the app in time.

/** Offsets closer than this to the one in use are noise: keep the one in use, so times stay exact. */
const OFFSET_NOISE_MS = 50;
/**
 * Ways back remembered (from the server's clock when it ran a call to the reply's arrival). A
 * deadline leaves twice the slowest of them, so an answer still arrives in time when the latency
 * doubles between two calls (a measurement only tells the past). A reply delayed on the way *to*
 * the server (a frozen server, a full socket buffer) says nothing of the way back, and costs nothing.
 */
const SAMPLES = 4;

export class ServerClock {
  readonly #appClock: () => number;
  /** Server clock minus app clock. */
  #offset = 0;
  #waysBack: number[] = [];
  #measuredAt: number | null = null;

  constructor(appClock: () => number) {
    this.#appClock = appClock;
  }

  /** Whether any reading was taken yet. */
  get measured(): boolean {
    return this.#measuredAt !== null;
  }

  /** The app's clock now (the caller's time for a sample). */
  now(): number {
    return this.#appClock();
  }

  /** Time since the last reading, in ms of the app's clock (Infinity before the first). */
  age(): number {
    return this.#measuredAt === null ? Infinity : this.#appClock() - this.#measuredAt;
  }

  /**
   * Folds in one reading: the server read its clock (`serverTime`) somewhere between `sentAt` and
   * `receivedAt`, so the sample is good to within half the round trip.
   */
  sample(serverTime: number, sentAt: number, receivedAt: number): void {
    const roundTrip = Math.max(0, receivedAt - sentAt);
    const offset = serverTime - Math.round((sentAt + receivedAt) / 2);
    if (this.#measuredAt === null || Math.abs(offset - this.#offset) > Math.max(OFFSET_NOISE_MS, roundTrip)) this.#offset = offset;
    this.#measuredAt = receivedAt;
    this.wayBack(serverTime, receivedAt);
  }

  /** Folds in how long a reply took from the server (which ran the call at `serverTime`) to the app. */
  wayBack(serverTime: number, receivedAt: number): void {
    const wayBack = Math.max(0, receivedAt - this.fromServer(serverTime));
    this.#waysBack = [...this.#waysBack.slice(1 - SAMPLES), wayBack];
  }

  /** An app-clock time on the server's clock. */
  toServer(appTime: number): number {
    return appTime + this.#offset;
  }

  /** A server-clock time on the app's clock. */
  fromServer(serverTime: number): number {
    return serverTime - this.#offset;
  }

  /**
   * The latest moment, on the server's clock, at which a write sent now may still change anything:
   * `budgetMs` from now, less room for its answer to travel back (twice the slowest recent way back).
   * A write run later than this would be answered after its caller was told 503.
   */
  deadline(budgetMs: number): number {
    const wayBack = this.#waysBack.length === 0 ? 0 : Math.max(...this.#waysBack);
    return Math.round(this.toServer(this.#appClock()) + budgetMs - 2 * wayBack);
  }
}
