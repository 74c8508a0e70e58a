/**
 * The re-seal over the real stores' item encoding, on a small in-memory stand-in for the document
 * client (Put, Get, Query, conditional Update, transactions of Puts). DynamoDB's own handling of
 * the conditional update is exercised on DynamoDB Local by test/functions/key-rotation.int.test.ts.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoApiKeyStore, DynamoTenantStore } from '../../../../functions/lib/aws/dynamo-access-stores.ts';
import { DynamoEndpointStore } from '../../../../functions/lib/aws/dynamo-endpoint-stores.ts';
import type { LedgerTable } from '../../../../functions/lib/aws/ledger-table.ts';
import { resealLedger, sealedItemKinds } from '../../../../functions/lib/aws/reseal.ts';
import { generateDataKey, type Keyring, withNewCurrentKey } from '../../../../functions/lib/crypto/keyring.ts';
import { SecretBox } from '../../../../functions/lib/crypto/secret-box.ts';
import { anEndpoint, OLD_SECRET, SECRET, TENANT } from '../core/fakes.ts';

type Item = Record<string, unknown>;

interface Command {
  readonly constructor: { readonly name: string };
  readonly input: Record<string, unknown>;
}

/** Just enough DynamoDB for the stores and the re-seal: items by pk and sk, conditions of the forms they use. */
class FakeLedger {
  readonly items = new Map<string, Item>();
  updates = 0;
  /** Runs before an update is applied: a concurrent writer's chance to get in first. */
  beforeUpdate: ((key: { pk: string; sk: string }) => void) | undefined;

  readonly client = { send: async (command: Command) => this.handle(command) } as unknown as DynamoDBDocumentClient;

  item(pk: string, sk: string): Item | undefined {
    return this.items.get(`${pk}|${sk}`);
  }

  private handle(command: Command): unknown {
    const input = command.input;
    switch (command.constructor.name) {
      case 'PutCommand':
        this.put(input);
        return {};
      case 'TransactWriteCommand':
        for (const element of input.TransactItems as { Put?: Record<string, unknown> }[]) {
          if (!element.Put) throw new Error('the fake ledger runs transactions of Puts only');
          this.put(element.Put);
        }
        return {};
      case 'GetCommand': {
        const key = input.Key as { pk: string; sk: string };
        const found = this.item(key.pk, key.sk);
        return { Item: found && structuredClone(found) };
      }
      case 'QueryCommand':
        return { Items: this.query(input) };
      case 'UpdateCommand':
        return this.update(input);
      default:
        throw new Error(`the fake ledger has no ${command.constructor.name}`);
    }
  }

  private put(input: Record<string, unknown>): void {
    const item = structuredClone(input.Item as Item);
    const key = `${String(item.pk)}|${String(item.sk)}`;
    if (input.ConditionExpression === 'attribute_not_exists(pk)' && this.items.has(key)) throw conditionFailure();
    if (input.ConditionExpression === 'attribute_exists(pk)' && !this.items.has(key)) throw conditionFailure();
    this.items.set(key, item);
  }

  private query(input: Record<string, unknown>): Item[] {
    const values = input.ExpressionAttributeValues as Record<string, unknown>;
    const all = [...this.items.values()];
    const matching =
      input.IndexName === 'gsi1'
        ? all.filter((item) => item.gsi1pk === values[':pk'])
        : all.filter((item) => item.pk === values[':pk'] && String(item.sk).startsWith(String(values[':prefix'] ?? '')));
    return matching.map((item) => structuredClone(item));
  }

  /** `SET #a = :new, …` under `#a = :old AND …`: the re-seal's form. */
  private update(input: Record<string, unknown>): unknown {
    const key = input.Key as { pk: string; sk: string };
    this.beforeUpdate?.(key);
    const item = this.item(key.pk, key.sk);
    const names = input.ExpressionAttributeNames as Record<string, string>;
    const values = input.ExpressionAttributeValues as Record<string, unknown>;
    if (!item) throw conditionFailure();
    const conditions = String(input.ConditionExpression).split(' AND ');
    for (const condition of conditions) {
      const [name = '', value = ''] = condition.split(' = ');
      if (JSON.stringify(item[names[name] ?? '']) !== JSON.stringify(values[value])) throw conditionFailure();
    }
    const assignments = String(input.UpdateExpression).replace(/^SET /, '').split(', ');
    for (const assignment of assignments) {
      const [name = '', value = ''] = assignment.split(' = ');
      item[names[name] ?? ''] = structuredClone(values[value]);
    }
    this.updates++;
    return {};
  }
}

function conditionFailure(): Error {
  const error = new Error('The conditional request failed');
  error.name = 'ConditionalCheckFailedException';
  return error;
}

const k1 = generateDataKey();
const oldRing: Keyring = { current: 'k1', keys: { k1 } };
const newRing = withNewCurrentKey(oldRing);
const OTHER_TENANT = 'ten_01JN0000000000000000OTHER0';

async function seeded() {
  const ledger = new FakeLedger();
  const table: LedgerTable = { client: ledger.client, name: 'ledger', retentionDays: 30 };
  const oldBox = new SecretBox(oldRing);
  const tenants = new DynamoTenantStore(table);
  for (const id of [TENANT, OTHER_TENANT]) await tenants.create({ id, name: id, createdAt: '2025-01-01T00:00:00.000Z' });
  const endpoints = new DynamoEndpointStore(table, oldBox);
  await endpoints.create(
    anEndpoint({
      id: 'ep_A',
      secrets: [
        { value: SECRET, createdAt: '2025-01-02T00:00:00.000Z' },
        { value: OLD_SECRET, createdAt: '2025-01-01T00:00:00.000Z', expiresAt: '2025-01-03T00:00:00.000Z' },
      ],
      auth: { type: 'basic', username: 'acme', password: 's3cret' },
    }),
  );
  await endpoints.create(anEndpoint({ id: 'ep_B', tenantId: OTHER_TENANT }));
  const apiKeys = new DynamoApiKeyStore(table, oldBox);
  await apiKeys.create(
    { id: 'key_A', tenantId: TENANT, name: 'reveal me', scopes: ['admin'], last4: 'abcd', createdAt: '2025-01-01T00:00:00.000Z' },
    'hash-of-key-a',
    'sk_the_plaintext_key_abcd',
  );
  return { ledger, table };
}

function sealedValues(ledger: FakeLedger): string[] {
  return [...ledger.items.values()].flatMap((item) => {
    const secrets = (item.secrets as { value: string }[] | undefined) ?? [];
    const auth = item.auth as { password: string } | undefined;
    return [
      ...secrets.map((secret) => secret.value),
      ...(auth ? [auth.password] : []),
      ...(item.sealedKey ? [String(item.sealedKey)] : []),
    ];
  });
}

describe('resealLedger', () => {
  test('the kinds it walks are the stores’ own declarations: endpoints (secrets, auth) and API keys (sealedKey)', () => {
    expect(sealedItemKinds.map((kind) => [kind.entity, kind.attributes])).toEqual([
      ['endpoint', ['secrets', 'auth']],
      ['apiKey', ['sealedKey']],
    ]);
  });

  test('rewrites every value not under the current key; what it rewrote still opens to the same plaintext', async () => {
    const { ledger, table } = await seeded();
    expect(sealedValues(ledger)).toHaveLength(5);
    expect(sealedValues(ledger).every((value) => value.startsWith('v2.k1.'))).toBe(true);

    const box = new SecretBox(newRing);
    const report = await resealLedger(table, box);
    expect(report).toEqual({
      tenants: 2,
      scanned: 3,
      resealed: 3,
      alreadyCurrent: 0,
      retried: 0,
      valuesByKey: { k1: 5 },
      unreadable: [],
      currentKeyId: 'k2',
    });
    expect(sealedValues(ledger).every((value) => value.startsWith('v2.k2.'))).toBe(true);

    const endpoint = await new DynamoEndpointStore(table, box).get(TENANT, 'ep_A');
    expect(endpoint?.secrets.map((secret) => secret.value)).toEqual([SECRET, OLD_SECRET]);
    expect(endpoint?.secrets[1]?.expiresAt).toBe('2025-01-03T00:00:00.000Z');
    expect(endpoint?.auth).toEqual({ type: 'basic', username: 'acme', password: 's3cret' });
    expect(await new DynamoApiKeyStore(table, box).reveal(TENANT, 'key_A')).toBe('sk_the_plaintext_key_abcd');
    // Nothing but the sealed attributes changed.
    expect(ledger.item(`TEN#${TENANT}`, 'EP#ep_A')).toMatchObject({ url: 'https://receiver.example.com/hooks', entity: 'endpoint' });

    // A second run finds everything current and writes nothing.
    const again = await resealLedger(table, box);
    expect(again).toMatchObject({ scanned: 3, resealed: 0, alreadyCurrent: 3, valuesByKey: { k2: 5 } });
    expect(ledger.updates).toBe(3);
  });

  test('a dry run counts without writing', async () => {
    const { ledger, table } = await seeded();
    const report = await resealLedger(table, new SecretBox(newRing), { dryRun: true });
    expect(report).toMatchObject({ scanned: 3, resealed: 3, alreadyCurrent: 0, valuesByKey: { k1: 5 } });
    expect(ledger.updates).toBe(0);
    expect(sealedValues(ledger).every((value) => value.startsWith('v2.k1.'))).toBe(true);
  });

  test('a write that lands between its read and its update is kept: the update fails its condition and is redone on the new item', async () => {
    const { ledger, table } = await seeded();
    const box = new SecretBox(newRing);
    // A function that still holds the old ring replaces ep_A's signing secret meanwhile.
    const rotated = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
    let raced = false;
    ledger.beforeUpdate = (key) => {
      if (raced || key.sk !== 'EP#ep_A') return;
      raced = true;
      const item = ledger.item(key.pk, key.sk) as Item;
      item.secrets = [{ value: new SecretBox(oldRing).seal(rotated), createdAt: '2025-02-01T00:00:00.000Z' }];
    };
    const report = await resealLedger(table, box);
    expect(report).toMatchObject({ scanned: 3, resealed: 3, retried: 1 });
    const endpoint = await new DynamoEndpointStore(table, box).get(TENANT, 'ep_A');
    // The concurrent write survived, and was itself re-sealed.
    expect(endpoint?.secrets.map((secret) => secret.value)).toEqual([rotated]);
    expect(sealedValues(ledger).every((value) => value.startsWith('v2.k2.'))).toBe(true);
  });

  test('an item deleted meanwhile is skipped; a value it cannot open is reported and left alone', async () => {
    const { ledger, table } = await seeded();
    ledger.beforeUpdate = (key) => {
      if (key.sk === 'EP#ep_B') ledger.items.delete(`${key.pk}|${key.sk}`);
    };
    const stranger = new SecretBox(generateDataKey()).seal('under a key nobody kept');
    const keyItem = ledger.item(`TEN#${TENANT}`, 'KEY#key_A') as Item;
    keyItem.sealedKey = stranger.replace(/^v2\.k1\./, 'v2.k7.');
    const progress: number[] = [];
    const report = await resealLedger(table, new SecretBox(newRing), { progress: (r) => progress.push(r.tenants) });
    expect(report).toMatchObject({ scanned: 2, resealed: 1, unreadable: [`apiKey TEN#${TENANT} KEY#key_A`] });
    expect(keyItem.sealedKey).toMatch(/^v2\.k7\./);
    expect(progress).toEqual([1, 2]);
  });
});
