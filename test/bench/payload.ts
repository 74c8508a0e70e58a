/**
 * Payloads that look like real events: ids, timestamps, numbers, nested objects and some prose,
 * padded to a target size. Each one is different, so nothing downstream can cache or dedupe it,
 * and it compresses about as well as production JSON does (not like a run of one letter).
 */
import { randomBytes, randomInt } from 'node:crypto';

const words = (
  'lock door front back garage office lobby unlocked keypad app nfc badge visitor staff tenant ' +
  'battery firmware signal strong weak retry schedule maintenance window resident delivery parcel ' +
  'courier access granted denied expired temporary code shared guest owner manager building floor'
).split(' ');

function id(prefix: string): string {
  return `${prefix}_${randomBytes(13).toString('base64url').toUpperCase().replace(/[-_]/g, 'X')}`;
}

function sentence(length: number): string {
  const out: string[] = [];
  while (out.join(' ').length < length) out.push(words[randomInt(words.length)] ?? 'lock');
  return out.join(' ').slice(0, length);
}

/** A `lock.unlocked`-like event of `bytes` bytes of JSON (exactly, for bytes ≥ 500). */
export function realisticPayload(bytes: number, sequence: number): Record<string, unknown> {
  const event: Record<string, unknown> = {
    sequence,
    lockId: id('lck'),
    siteId: id('site'),
    method: ['app', 'keypad', 'nfc', 'badge'][sequence % 4],
    occurredAt: new Date(Date.now() - randomInt(60_000)).toISOString(),
    actor: { userId: id('usr'), displayName: `${sentence(12)}`, role: sequence % 3 === 0 ? 'owner' : 'guest' },
    device: {
      model: `SL-${randomInt(100, 999)}`,
      firmware: `${randomInt(1, 9)}.${randomInt(0, 20)}.${randomInt(0, 99)}`,
      batteryPercent: randomInt(5, 100),
      rssiDbm: -randomInt(30, 95),
    },
    location: { latitude: Number((Math.random() * 180 - 90).toFixed(6)), longitude: Number((Math.random() * 360 - 180).toFixed(6)) },
    tags: [words[randomInt(words.length)], words[randomInt(words.length)]],
    note: '',
  };
  const base = JSON.stringify(event).length;
  event.note = sentence(Math.max(0, bytes - base));
  return event;
}
