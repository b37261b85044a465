// Heap bytes per outstanding link on the memory store: issue N links through the real handler
// (in-process, over loopback) and compare the heap after a full GC.
import express from 'express';
import autocannon from 'autocannon';
import { MagicLink } from 'express-magic-link';

const links = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc!;

async function measure(label: string, sameAddress: boolean): Promise<[string, number]> {
  const magicLink = new MagicLink({
    baseUrl: 'http://127.0.0.1',
    mailer: { send: async () => undefined },
    limits: { linkRequestsPerIp: 1_000_000, linkRequestsPerEmail: 1_000_000 },
  });
  const app = express();
  app.set('trust proxy', true);
  app.post('/l', magicLink.requestLinkHandler());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  gc();
  const before = process.memoryUsage().heapUsed;
  let n = 0;
  await autocannon({
    url,
    connections: 32,
    amount: links,
    requests: [
      {
        method: 'POST',
        path: '/l',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          n++;
          const email = sameAddress ? 'someone@bench.example' : `user${n}@bench.example`;
          const ip = sameAddress ? '10.0.0.1' : `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
          return { ...req, headers: { ...req.headers, 'x-forwarded-for': ip }, body: JSON.stringify({ email }) };
        },
      },
    ],
  });
  server.close();
  gc();
  const after = process.memoryUsage().heapUsed;
  const size = (magicLink.store as unknown as { size: number }).size;
  if (size !== links) throw new Error(`expected ${links} links, store holds ${size}`);
  return [label, Math.round((after - before) / links)];
}

const result = Object.fromEntries([await measure('oneAddress', true), await measure('newAddressAndIpEach', false)]);
console.log(JSON.stringify(result));
