// The faults a shared store reports for a call that changed nothing usable; the service answers
// each with `service_unavailable`.

/** Thrown when a write refused to run because it reached the server after its deadline: it changed nothing. */
export class StoreDeadlineError extends Error {
  constructor(server: string) {
    super(`the store call reached ${server} after its deadline; it changed nothing`);
    this.name = 'StoreDeadlineError';
  }
}

/** Thrown when fewer replicas than asked acknowledged a write in time (`waitForReplicas`). */
export class ReplicaAckError extends Error {
  constructor(wanted: number, got: number, before = false) {
    super(
      before
        ? `replicas are not acknowledging writes (${got} of ${wanted} at the last try): refused before writing anything`
        : `${got} of ${wanted} replicas acknowledged the write in time`,
    );
    this.name = 'ReplicaAckError';
  }
}
