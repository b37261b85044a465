// A TCP proxy that adds a fixed delay each way, as a store far away (or a congested link) does.
// Chunks keep their order: each waits the same time.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class DelayProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Milliseconds added to every chunk in each direction; may be changed while running. */
  delayMs: number;
  /** Milliseconds added on top of `delayMs` to the answers only (server to client): an answer lost in a slow link. */
  answerDelayMs = 0;
  port = 0;

  private constructor(targetPort: number, delayMs: number) {
    this.delayMs = delayMs;
    this.#server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      this.#relay(client, upstream, () => this.delayMs);
      this.#relay(upstream, client, () => this.delayMs + this.answerDelayMs);
    });
  }

  static async start(targetPort: number, delayMs: number): Promise<DelayProxy> {
    const proxy = new DelayProxy(targetPort, delayMs);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  #relay(from: Socket, to: Socket, delay: () => number): void {
    // Chunks keep their order even when the delay shrinks: each leaves no earlier than the one before.
    let last = 0;
    const at = (): number => (last = Math.max(last, Date.now() + delay())) - Date.now();
    from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), at()));
    from.on('end', () => setTimeout(() => to.end(), at()));
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
