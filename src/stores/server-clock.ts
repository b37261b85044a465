// One clock for every time decision: the store server's. A shared store is reached by several app
// hosts whose clocks disagree; the server's is the one they all see. The store measures, from its
// round trips, how far the app's clock is from the server's (the offset) and how far away the server
// is (the round trip), sends its times already on the server's clock, and gives each write a
// deadline by which its answer can still reach the app in time.

/** Offsets closer than this to the one in use are noise: keep the one in use, so times stay exact. */
const OFFSET_NOISE_MS = 50;
/**
 * Round trips remembered. A deadline leaves the slowest of them for the answer's way back: a whole
 * round trip, twice the one-way time, so an answer still arrives in time when the latency doubles
 * between two calls (a measurement only tells the past). Slow replies overstate it: the safe side.
 */
const SAMPLES = 4;

export class ServerClock {
  readonly #appClock: () => number;
  /** Server clock minus app clock. */
  #offset = 0;
  #roundTrips: number[] = [];
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
    const roundTrip = this.roundTrip(sentAt, receivedAt);
    const offset = serverTime - Math.round((sentAt + receivedAt) / 2);
    if (this.#measuredAt === null || Math.abs(offset - this.#offset) > Math.max(OFFSET_NOISE_MS, roundTrip)) this.#offset = offset;
    this.#measuredAt = receivedAt;
  }

  /** Folds in the round trip of any call (no clock reading in it): latency is kept current by every reply. */
  roundTrip(sentAt: number, receivedAt: number): number {
    const roundTrip = Math.max(0, receivedAt - sentAt);
    this.#roundTrips = [...this.#roundTrips.slice(1 - SAMPLES), roundTrip];
    return roundTrip;
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
   * `budgetMs` from now, less room for its answer to travel back (the slowest recent round trip).
   * A write run later than this would be answered after its caller was told 503.
   */
  deadline(budgetMs: number): number {
    const wayBack = this.#roundTrips.length === 0 ? 0 : Math.max(...this.#roundTrips);
    return Math.round(this.toServer(this.#appClock()) + budgetMs - wayBack);
  }
}
