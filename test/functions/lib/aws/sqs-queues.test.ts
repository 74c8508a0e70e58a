import fc from 'fast-check';
import { sqsSafeBody } from '../../../../functions/lib/aws/sqs-queues.ts';

/** What SQS accepts in a message body (its documented set, read as UTF-16 units as fauxqs does). */
function sqsAccepts(body: string): boolean {
  for (let i = 0; i < body.length; i++) {
    const unit = body.charCodeAt(i);
    const ok = unit === 0x09 || unit === 0x0a || unit === 0x0d || (unit >= 0x20 && unit <= 0xd7ff) || (unit >= 0xe000 && unit <= 0xfffd);
    if (!ok) return false;
  }
  return true;
}

describe('sqsSafeBody', () => {
  test('an emoji becomes JSON escapes that parse back to the same text', () => {
    const job = JSON.stringify({ payloadJson: '{"emoji":"😀","raw":"ß→"}' });
    const safe = sqsSafeBody(job);
    expect(safe).toContain('\\ud83d\\ude00');
    expect(sqsAccepts(safe)).toBe(true);
    expect(JSON.parse(safe)).toEqual(JSON.parse(job));
  });

  // Found by the property below (seed 870023543): SQS refuses the noncharacters U+FFFE and U+FFFF.
  test('the noncharacters U+FFFE and U+FFFF become JSON escapes that parse back to the same text', () => {
    const job = JSON.stringify({ text: 'a\ufffeb\uffffc' });
    const safe = sqsSafeBody(job);
    expect(safe).toContain('\\ufffe');
    expect(safe).toContain('\\uffff');
    expect(sqsAccepts(safe)).toBe(true);
    expect(JSON.parse(safe)).toEqual(JSON.parse(job));
  });

  test('property: any JSON value survives, and the body holds only characters SQS and fauxqs accept', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, text) => {
        const json = JSON.stringify({ value, text, nested: JSON.stringify({ text }) });
        const safe = sqsSafeBody(json);
        expect(sqsAccepts(safe)).toBe(true);
        expect(JSON.parse(safe)).toEqual(JSON.parse(json));
      }),
      { numRuns: 1000 },
    );
  });
});
