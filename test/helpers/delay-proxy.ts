// A TCP proxy that adds a fixed delay each way, as a store far away (or a congested link) does.
// Chunks keep their order: each waits the same time.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class DelayProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Milliseconds added to every chunk in each direction; may be changed while running. */
  delayMs: number;
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
      this.#relay(client, upstream);
      this.#relay(upstream, client);
    });
  }

  static async start(targetPort: number, delayMs: number): Promise<DelayProxy> {
    const proxy = new DelayProxy(targetPort, delayMs);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  #relay(from: Socket, to: Socket): void {
    from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), this.delayMs));
    from.on('end', () => setTimeout(() => to.end(), this.delayMs));
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
