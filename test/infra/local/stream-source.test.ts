import { newDispatchedMessagePattern } from '../../../functions/lib/aws/ledger-keys.ts';
import { matchesPattern } from '../../../infra/local/stream-source.ts';

/** The subset of Lambda event filtering the local stream source applies, checked against the dispatch pattern. */
describe('matchesPattern (Lambda event filters)', () => {
  const message = (image: Record<string, unknown>, eventName = 'INSERT') => ({ eventName, dynamodb: { NewImage: image } });
  const dispatched = { sk: { S: 'MSG' }, gsi5pk: { S: 'NEW#2' }, id: { S: 'msg_1' } };

  test('a new message dispatched to endpoints matches', () => {
    expect(matchesPattern(newDispatchedMessagePattern, message(dispatched))).toBe(true);
  });

  test.each([
    ['a change to a message (not an insert)', message(dispatched, 'MODIFY')],
    ['a delivery item', message({ ...dispatched, sk: { S: 'DLV#ABC' } })],
    ['a message with no endpoints (not in the dispatch shards)', message({ sk: { S: 'MSG' } })],
    ['a message in another shard family', message({ ...dispatched, gsi5pk: { S: 'DUE#1' } })],
    ['a message attempted where it was published', message({ ...dispatched, inline: { BOOL: true } })],
    ['a record without an image', { eventName: 'INSERT' }],
  ])('%s does not match', (_what, record) => {
    expect(matchesPattern(newDispatchedMessagePattern, record)).toBe(false);
  });

  test('lists of literals, prefixes and exists', () => {
    expect(matchesPattern({ a: ['x', 'y'] }, { a: 'y' })).toBe(true);
    expect(matchesPattern({ a: ['x', 'y'] }, { a: 'z' })).toBe(false);
    expect(matchesPattern({ a: [{ prefix: 'ab' }] }, { a: 'abc' })).toBe(true);
    expect(matchesPattern({ a: [{ prefix: 'ab' }] }, { a: 1 })).toBe(false);
    expect(matchesPattern({ a: [{ exists: true }] }, { a: 0 })).toBe(true);
    expect(matchesPattern({ a: [{ exists: true }] }, {})).toBe(false);
    expect(matchesPattern({ a: { b: [{ exists: false }] } }, {})).toBe(true);
    expect(matchesPattern({ a: { b: [{ exists: false }] } }, { a: { b: 'x' } })).toBe(false);
  });
});
