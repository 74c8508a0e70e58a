/**
 * A minimal thin-mode receiver: the notification carries no data, only a signed pointer.
 *
 *   WEBHOOK_SECRET=whsec_... SLUICE_URL=http://127.0.0.1:3000 SLUICE_RECEIVER_KEY=sk_... npm run thin-receiver
 *
 * 1. verify the signature (over the empty body) and answer 2xx at once: "received";
 * 2. fetch the event from the inbox with a `receiver` key;
 * 3. process it, then acknowledge it. Until the ack, Sluice repeats the notification on the
 *    endpoint's schedule (default: growing intervals over 24 h), so a crash between 1 and 3
 *    loses nothing: the next notification (or GET /v1/inbox?endpointId=…) brings it back.
 */
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const port = Number(process.env.RECEIVER_PORT ?? 4001);
const { WEBHOOK_SECRET, SLUICE_URL = 'http://127.0.0.1:3000', SLUICE_RECEIVER_KEY } = process.env;
if (!WEBHOOK_SECRET || !SLUICE_RECEIVER_KEY) {
  console.error('Set WEBHOOK_SECRET (the endpoint secret) and SLUICE_RECEIVER_KEY (an API key with the receiver scope).');
  process.exit(2);
}
const webhook = new Webhook(WEBHOOK_SECRET);
const auth = { authorization: `Bearer ${SLUICE_RECEIVER_KEY}` };

async function handle(deliveryId: string): Promise<void> {
  const fetched = await fetch(`${SLUICE_URL}/v1/inbox/${deliveryId}`, { headers: auth });
  if (!fetched.ok) throw new Error(`fetch answered ${fetched.status}`);
  const event = (await fetched.json()) as { type: string; messageId: string; data: unknown };
  console.log(`✓ ${event.type} ${event.messageId}:`, JSON.stringify(event.data));
  // ...do the work; make it idempotent by messageId, since a notification can arrive twice...
  const acked = await fetch(`${SLUICE_URL}/v1/inbox/${deliveryId}/ack`, { method: 'POST', headers: auth });
  if (!acked.ok) throw new Error(`ack answered ${acked.status}`);
}

http
  .createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)]));
      try {
        webhook.verify('', headers, { jsonParse: false });
      } catch {
        res.writeHead(400).end();
        return;
      }
      const deliveryId = headers['x-message-id'] ?? '';
      res.writeHead(202).end();
      handle(deliveryId).catch((error: unknown) => console.error(`✗ ${deliveryId}: ${String(error)} (Sluice will notify again)`));
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`Thin receiver listening on http://127.0.0.1:${port}/webhook`));
