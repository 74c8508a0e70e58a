import fc from 'fast-check';
import { keys } from '../../../../functions/lib/aws/ledger-keys.ts';

describe('ledger keys', () => {
  test('rate counters: one partition per subject and second; an inbound key never shares an endpoint’s', () => {
    expect(keys.rateCounter({ endpointId: 'ep_A' }, 1_700_000_000)).toEqual({ pk: 'RATE#ep_A', sk: '1700000000' });
    expect(keys.rateCounter({ hookKeyId: 'key_A' }, 1_700_000_000)).toEqual({ pk: 'RATE#HOOK#key_A', sk: '1700000000' });
    fc.assert(
      fc.property(fc.stringMatching(/^ep_[0-9A-Z]{1,30}$/), fc.stringMatching(/^key_[0-9A-Z]{1,30}$/), (endpointId, hookKeyId) => {
        expect(keys.rateCounter({ endpointId }, 1).pk).not.toBe(keys.rateCounter({ hookKeyId }, 1).pk);
      }),
    );
  });

  test('the due sort key orders by time and gives its delivery id back', () => {
    const key = keys.dueSortKey('2026-11-30T12:00:00.000Z', 'dlv_01ABC');
    expect(key).toBe('2026-11-30T12:00:00.000Z#dlv_01ABC');
    expect(keys.deliveryIdOfDueSortKey(key)).toBe('dlv_01ABC');
    fc.assert(
      fc.property(fc.date({ noInvalidDate: true }), fc.stringMatching(/^dlv_[0-9A-Z]{38}$/), (at, id) => {
        expect(keys.deliveryIdOfDueSortKey(keys.dueSortKey(at.toISOString(), id))).toBe(id);
      }),
    );
    expect(keys.dueSortKey('2026-11-30T12:00:00.000Z', 'dlv_Z') < keys.dueSortKey('2026-11-30T12:00:01.000Z', 'dlv_A')).toBe(true);
  });
});
