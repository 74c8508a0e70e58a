/** A real webhook receiver on 127.0.0.1 that records every request and answers as told. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly receivedAt: number;
}

export type Responder = (request: ReceivedRequest, index: number, res: http.ServerResponse) => unknown;

export const respondWith =
  (status: number, body = '', headers: Record<string, string> = {}): Responder =>
  (_request, _index, res) => {
    res.writeHead(status, headers);
    res.end(body);
  };

export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];
  private readonly sockets = new Set<import('node:net').Socket>();

  private constructor(
    private readonly server: http.Server,
    public responder: Responder,
  ) {}

  static async start(responder: Responder = respondWith(200, 'ok'), port = 0): Promise<Receiver> {
    let receiver: Receiver | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
        const request = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers,
          body: Buffer.concat(chunks).toString('utf8'),
          receivedAt: Date.now(),
        };
        const self = receiver as Receiver;
        const index = self.requests.push(request) - 1;
        void Promise.resolve(self.responder(request, index, res)).finally(() => self.notify());
      });
    });
    server.on('connection', (socket) => {
      receiver?.sockets.add(socket);
      socket.on('close', () => receiver?.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    receiver = new Receiver(server, responder);
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Requests for one delivery, in arrival order. */
  requestsFor(deliveryId: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.headers['x-sluice-delivery-id'] === deliveryId);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhook`;
  }

  /** Resolves once at least `count` requests have arrived. */
  waitFor(count: number, timeoutMs = 20_000): Promise<ReceivedRequest[]> {
    if (this.requests.length >= count) return Promise.resolve(this.requests);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`receiver got ${this.requests.length} of ${count} requests within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.requests);
        },
      });
    });
  }

  private notify(): void {
    const ready = this.waiters.filter((w) => this.requests.length >= w.count);
    this.waiters = this.waiters.filter((w) => this.requests.length < w.count);
    for (const waiter of ready) waiter.resolve();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The receivers one test file starts, all closed together in its `afterAll`. */
export function receiverPool(): { start: typeof Receiver.start; closeAll: () => Promise<void> } {
  const open: Receiver[] = [];
  return {
    start: async (...args) => {
      const started = await Receiver.start(...args);
      open.push(started);
      return started;
    },
    closeAll: async () => {
      await Promise.all(open.map((r) => r.close().catch(() => undefined)));
    },
  };
}
