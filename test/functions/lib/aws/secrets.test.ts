/** Reading the data keyring and the root key's verifier in a deployed stack: the refresh that lets a rotation reach warm containers. */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerRootKeyVerifier, staticRootKeyVerifier } from '../../../../functions/lib/aws/root-key.ts';
import { RefreshSchedule, secretsManagerSecretBox } from '../../../../functions/lib/aws/secrets.ts';
import { hashKey } from '../../../../functions/lib/core/access.ts';
import { generateDataKey, rotateStaged, serializeKeyring, withNewCurrentKey } from '../../../../functions/lib/crypto/keyring.ts';
import { type RootKeys, rootKeyVerifier, rotateRootKeys, serializeRootKeyVerifier } from '../../../../functions/lib/crypto/root-keys.ts';
import { SecretBox } from '../../../../functions/lib/crypto/secret-box.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sluice-AbCdEf';
const OLD_ROOT = 'root_old_0123456789abcdefghijklmnop';
const NEW_ROOT = 'root_new_0123456789abcdefghijklmnop';

/** The verifier text the rotation function writes for these keys. */
const verifierOf = (keys: RootKeys) => serializeRootKeyVerifier(rootKeyVerifier(keys));

/** A Secrets Manager that answers GetSecretValue with whatever `value` holds now, or fails when told. */
function fakeSecrets(initial: string) {
  const state = { value: initial, fail: false, reads: 0 };
  const client = {
    send: jest.fn(async () => {
      state.reads++;
      if (state.fail) throw new Error('ThrottlingException');
      return { SecretString: state.value };
    }),
  } as unknown as SecretsManagerClient;
  return { client, state };
}

function clock(start = Date.parse('2025-01-01T00:00:00Z')) {
  let now = start;
  return { nowMs: () => now, now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

describe('RefreshSchedule', () => {
  test('due at first, then every period; 30 s after a failure; soon() brings it to 30 s after the last try', () => {
    const time = clock();
    const schedule = new RefreshSchedule(300, time.nowMs);
    expect(schedule.due()).toBe(true);
    schedule.succeeded();
    time.advance(299_999);
    expect(schedule.due()).toBe(false);
    time.advance(1);
    expect(schedule.due()).toBe(true);
    schedule.failed();
    time.advance(29_999);
    expect(schedule.due()).toBe(false);
    time.advance(1);
    expect(schedule.due()).toBe(true);
    schedule.succeeded();
    schedule.soon();
    expect(schedule.due()).toBe(false);
    time.advance(30_000);
    expect(schedule.due()).toBe(true);
  });
});

describe('the data keyring in Secrets Manager', () => {
  test('is re-read once the refresh period has passed: a rotation reaches a warm container', async () => {
    const time = clock();
    const k1 = generateDataKey();
    const { client, state } = fakeSecrets(k1);
    const { box, refresher } = await secretsManagerSecretBox(ARN, client, { nowMs: time.nowMs, refreshSeconds: 300 });
    expect(box.keyIds).toEqual(['k1']);

    const staged = rotateStaged({ current: 'k1', keys: { k1 } }, time.now());
    state.value = serializeKeyring(staged);
    await refresher.refresh();
    expect(state.reads).toBe(1);
    time.advance(300_000);
    await refresher.refresh();
    expect(state.reads).toBe(2);
    expect(box.keyIds).toEqual(['k1', 'k2']);
    // Staged, not current: it does not seal yet.
    expect(box.seal('x').startsWith('v2.k1.')).toBe(true);
  });

  test('a value under a key the ring lacks brings the refresh forward to 30 s after the last read', async () => {
    const time = clock();
    const k1 = generateDataKey();
    const { client, state } = fakeSecrets(k1);
    const { box, refresher } = await secretsManagerSecretBox(ARN, client, { nowMs: time.nowMs, refreshSeconds: 300 });
    const newer = withNewCurrentKey({ current: 'k1', keys: { k1 } });
    state.value = serializeKeyring(newer);
    const sealed = new SecretBox(newer).seal('from a function with the newer ring');
    expect(() => box.open(sealed)).toThrow(/data key k2/);
    time.advance(30_000);
    await refresher.refresh();
    expect(box.open(sealed)).toBe('from a function with the newer ring');
    expect(state.reads).toBe(2);
  });

  test('a failed or malformed read keeps the ring it has, and is retried 30 s later', async () => {
    const time = clock();
    const k1 = generateDataKey();
    const { client, state } = fakeSecrets(k1);
    const { box, refresher } = await secretsManagerSecretBox(ARN, client, { nowMs: time.nowMs, refreshSeconds: 300 });
    time.advance(300_000);
    state.fail = true;
    await refresher.refresh();
    expect(box.keyIds).toEqual(['k1']);
    state.fail = false;
    state.value = '{"current":"k9"}';
    time.advance(30_000);
    await refresher.refresh();
    expect(box.keyIds).toEqual(['k1']);
    expect(state.reads).toBe(3);
    await refresher.refresh();
    expect(state.reads).toBe(3);
  });

  test('refreshes that are due at once share one read', async () => {
    const time = clock();
    const { client, state } = fakeSecrets(generateDataKey());
    const { refresher } = await secretsManagerSecretBox(ARN, client, { nowMs: time.nowMs, refreshSeconds: 300 });
    time.advance(300_000);
    await Promise.all([refresher.refresh(), refresher.refresh(), refresher.refresh()]);
    expect(state.reads).toBe(2);
  });
});

describe("the root key's verifier", () => {
  test('given directly: the current hash, and the previous one during a hand-over until its end', async () => {
    expect(await staticRootKeyVerifier(verifierOf({ current: OLD_ROOT })).hashes()).toEqual([hashKey(OLD_ROOT)]);
    const time = clock();
    const source = staticRootKeyVerifier(verifierOf(rotateRootKeys({ current: OLD_ROOT }, time.now(), 60, NEW_ROOT)), time.now);
    expect(await source.hashes()).toEqual([hashKey(NEW_ROOT), hashKey(OLD_ROOT)]);
    time.advance(60_000);
    expect(await source.hashes()).toEqual([hashKey(NEW_ROOT)]);
  });

  test('given a root key instead, it refuses at once rather than treat the key as a verifier', () => {
    expect(() => staticRootKeyVerifier(OLD_ROOT)).toThrow('the root-key verifier is not JSON');
  });

  test('in Secrets Manager: read once, re-read after the refresh period, kept when a refresh fails', async () => {
    const time = clock();
    const { client, state } = fakeSecrets(verifierOf({ current: OLD_ROOT }));
    const source = secretsManagerRootKeyVerifier(ARN, client, { now: time.now, refreshSeconds: 300 });
    expect(await source.hashes()).toEqual([hashKey(OLD_ROOT)]);
    expect(await source.hashes()).toEqual([hashKey(OLD_ROOT)]);
    expect(state.reads).toBe(1);

    state.value = verifierOf(rotateRootKeys({ current: OLD_ROOT }, time.now(), 3600, NEW_ROOT));
    time.advance(300_000);
    expect(await source.hashes()).toEqual([hashKey(NEW_ROOT), hashKey(OLD_ROOT)]);

    state.fail = true;
    time.advance(300_000);
    expect(await source.hashes()).toEqual([hashKey(NEW_ROOT), hashKey(OLD_ROOT)]);
    // The hand-over ends on time even while the verifier cannot be read.
    time.advance(3600_000);
    expect(await source.hashes()).toEqual([hashKey(NEW_ROOT)]);
  });

  test('a malformed verifier read at a refresh keeps the one known', async () => {
    const time = clock();
    const { client, state } = fakeSecrets(verifierOf({ current: OLD_ROOT }));
    const source = secretsManagerRootKeyVerifier(ARN, client, { now: time.now, refreshSeconds: 300 });
    expect(await source.hashes()).toEqual([hashKey(OLD_ROOT)]);
    state.value = '{"current":"not a hash"}';
    time.advance(300_000);
    expect(await source.hashes()).toEqual([hashKey(OLD_ROOT)]);
  });

  test('a failed first read is not kept: the next call reads again', async () => {
    const { client, state } = fakeSecrets(verifierOf({ current: OLD_ROOT }));
    state.fail = true;
    const source = secretsManagerRootKeyVerifier(ARN, client);
    await expect(source.hashes()).rejects.toThrow('ThrottlingException');
    state.fail = false;
    expect(await source.hashes()).toEqual([hashKey(OLD_ROOT)]);
  });
});
