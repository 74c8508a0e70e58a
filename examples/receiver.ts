/**
 * A minimal webhook receiver that verifies Sluice's Standard Webhooks signature.
 *
 *   WEBHOOK_SECRET=whsec_... npm run receiver          (listens on 127.0.0.1:4000)
 *
 * The same few lines work in any Node service: verify the raw body, then trust the event.
 */
import http from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

const port = Number(process.env.RECEIVER_PORT ?? 4000);
const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error('Set WEBHOOK_SECRET to the endpoint secret (GET /v1/endpoints/{id}/secret).');
  process.exit(2);
}
const webhook = new Webhook(secret);

http
  .createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      // Verify the exact bytes received: re-serialising parsed JSON would change the signature.
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)]));
      try {
        const event = webhook.verify(body, headers) as { id: string; type: string; data: unknown };
        console.log(`✓ ${headers['x-sluice-event-type']} ${event.id} (attempt ${headers['x-sluice-attempt']}) signature verified`);
        console.log(JSON.stringify(event.data, null, 2));
        res.writeHead(204).end();
      } catch (error) {
        // Timestamps older than 5 minutes are refused too: replayed requests fail here.
        console.log(`✗ rejected: ${error instanceof WebhookVerificationError ? error.message : String(error)}`);
        res.writeHead(400).end();
      }
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`Receiver listening on http://127.0.0.1:${port}/webhook`));
