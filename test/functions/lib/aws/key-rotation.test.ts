/**
 * The rotation function's four steps against an in-memory Secrets Manager that keeps versions and
 * staging labels the way the service does (a rotation starts with an empty AWSPENDING version;
 * moving AWSCURRENT moves AWSPREVIOUS to the version it left).
 */
import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type RotationDeps, type RotationStep, rotateSecret } from '../../../../functions/lib/aws/key-rotation.ts';
import type { ResealReport } from '../../../../functions/lib/aws/reseal.ts';
import { generateDataKey, PROMOTE_AFTER_SECONDS, parseKeyring, serializeKeyring } from '../../../../functions/lib/crypto/keyring.ts';
import { parseRootKeys, validRootKeys } from '../../../../functions/lib/crypto/root-keys.ts';
import type { SecretBox } from '../../../../functions/lib/crypto/secret-box.ts';

const ROOT_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:StorageRootKey-AbCdEf';
const DATA_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:StorageEncryptionKey-GhIjKl';
const T0 = new Date('2025-01-01T00:00:00.000Z');

interface Version {
  value?: string;
  stages: Set<string>;
}

class FakeSecretsManager {
  readonly versions = new Map<string, Version>();
  rotationEnabled = true;
  private counter = 0;

  readonly client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => this.handle(command),
  } as unknown as SecretsManagerClient;

  constructor(initial: string) {
    this.versions.set('v0', { value: initial, stages: new Set(['AWSCURRENT']) });
  }

  /** What RotateSecret does before invoking the function: a new version id labelled AWSPENDING, with no value. */
  startRotation(): string {
    const token = `token-${++this.counter}`;
    for (const version of this.versions.values()) version.stages.delete('AWSPENDING');
    this.versions.set(token, { stages: new Set(['AWSPENDING']) });
    return token;
  }

  valueAt(stage: string): string | undefined {
    return [...this.versions.values()].find((version) => version.stages.has(stage))?.value;
  }

  private handle(command: { constructor: { name: string }; input: Record<string, unknown> }): unknown {
    const input = command.input;
    switch (command.constructor.name) {
      case 'DescribeSecretCommand':
        return {
          RotationEnabled: this.rotationEnabled,
          VersionIdsToStages: Object.fromEntries([...this.versions].map(([id, version]) => [id, [...version.stages]])),
        };
      case 'GetSecretValueCommand': {
        const found = [...this.versions].find(
          ([id, version]) =>
            (input.VersionId === undefined || input.VersionId === id) &&
            (input.VersionStage === undefined || version.stages.has(String(input.VersionStage))),
        );
        if (!found?.[1].value) throw notFound();
        return { SecretString: found[1].value, VersionId: found[0] };
      }
      case 'PutSecretValueCommand': {
        const token = String(input.ClientRequestToken);
        const stages = (input.VersionStages as string[]) ?? ['AWSCURRENT'];
        for (const version of this.versions.values()) for (const stage of stages) version.stages.delete(stage);
        const version = this.versions.get(token) ?? { stages: new Set<string>() };
        version.value = String(input.SecretString);
        for (const stage of stages) version.stages.add(stage);
        this.versions.set(token, version);
        return {};
      }
      case 'UpdateSecretVersionStageCommand': {
        const stage = String(input.VersionStage);
        if (input.RemoveFromVersionId) this.versions.get(String(input.RemoveFromVersionId))?.stages.delete(stage);
        if (input.MoveToVersionId) {
          if (stage === 'AWSCURRENT') {
            for (const version of this.versions.values()) version.stages.delete('AWSPREVIOUS');
            if (input.RemoveFromVersionId) this.versions.get(String(input.RemoveFromVersionId))?.stages.add('AWSPREVIOUS');
          }
          this.versions.get(String(input.MoveToVersionId))?.stages.add(stage);
        }
        return {};
      }
      default:
        throw new Error(`the fake has no ${command.constructor.name}`);
    }
  }
}

function notFound(): Error {
  const error = new Error("Secrets Manager can't find the specified secret value");
  error.name = 'ResourceNotFoundException';
  return error;
}

const steps: RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

function harness(initial: string) {
  const sm = new FakeSecretsManager(initial);
  let now = T0;
  const resealed: string[] = [];
  const logs: string[] = [];
  const deps: RotationDeps = {
    client: sm.client,
    rootKeySecretArn: ROOT_ARN,
    encryptionKeySecretArn: DATA_ARN,
    rootKeyHandOverSeconds: 86_400,
    reseal: async (box: SecretBox): Promise<ResealReport> => {
      resealed.push(box.currentKeyId);
      return {
        tenants: 1,
        scanned: 2,
        resealed: 2,
        alreadyCurrent: 0,
        valuesByKey: {},
        retried: 0,
        unreadable: [],
        currentKeyId: box.currentKeyId,
      };
    },
    now: () => now,
    log: (message, details) => logs.push(`${message} ${JSON.stringify(details ?? {})}`),
  };
  const rotate = async (secretId: string) => {
    const token = sm.startRotation();
    for (const step of steps) await rotateSecret({ SecretId: secretId, ClientRequestToken: token, Step: step }, deps);
    return token;
  };
  return {
    sm,
    deps,
    rotate,
    resealed,
    logs,
    advance: (seconds: number) => {
      now = new Date(now.getTime() + seconds * 1000);
    },
    now: () => now,
  };
}

describe('rotation of the data keyring', () => {
  test('a legacy bare key: the first rotation stages k2 and keeps sealing with k1; the re-seal runs under k1', async () => {
    const k1 = generateDataKey();
    const h = harness(k1);
    await h.rotate(DATA_ARN);
    const ring = parseKeyring(h.sm.valueAt('AWSCURRENT') ?? '');
    expect(ring).toMatchObject({ current: 'k1', next: 'k2', stagedAt: T0.toISOString() });
    expect(ring.keys.k1).toBe(k1);
    expect(h.sm.valueAt('AWSPREVIOUS')).toBe(k1);
    expect(h.sm.valueAt('AWSPENDING')).toBeUndefined();
    expect(h.resealed).toEqual(['k1']);
  });

  test('the next rotation promotes the staged key, stages another, and re-seals the ledger under the promoted one', async () => {
    const h = harness(generateDataKey());
    await h.rotate(DATA_ARN);
    h.advance(30 * 86_400);
    await h.rotate(DATA_ARN);
    const ring = parseKeyring(h.sm.valueAt('AWSCURRENT') ?? '');
    expect(ring).toMatchObject({ current: 'k2', next: 'k3' });
    expect(Object.keys(ring.keys)).toEqual(['k1', 'k2', 'k3']);
    expect(h.resealed).toEqual(['k1', 'k2']);
  });

  test('a rotation right after another changes nothing (the staged key is too young to seal) and completes, so later ones are not blocked', async () => {
    const h = harness(generateDataKey());
    await h.rotate(DATA_ARN);
    const before = parseKeyring(h.sm.valueAt('AWSCURRENT') ?? '');
    h.advance(PROMOTE_AFTER_SECONDS - 60);
    await h.rotate(DATA_ARN);
    expect(parseKeyring(h.sm.valueAt('AWSCURRENT') ?? '')).toEqual(before);
    expect(h.sm.valueAt('AWSPENDING')).toBeUndefined();
    expect(h.logs.join('\n')).toMatch(/left as it is .*k2 was staged \d+ s ago/);
    h.advance(60);
    await h.rotate(DATA_ARN);
    expect(parseKeyring(h.sm.valueAt('AWSCURRENT') ?? '')).toMatchObject({ current: 'k2', next: 'k3' });
  });

  test('each step is safe to retry: createSecret keeps its pending version, a finishSecret retried after the labels moved re-seals again', async () => {
    const h = harness(generateDataKey());
    const token = h.sm.startRotation();
    const run = (step: RotationStep) => rotateSecret({ SecretId: DATA_ARN, ClientRequestToken: token, Step: step }, h.deps);
    await run('createSecret');
    const pending = h.sm.valueAt('AWSPENDING');
    await run('createSecret');
    expect(h.sm.valueAt('AWSPENDING')).toBe(pending);
    for (const step of ['setSecret', 'testSecret', 'finishSecret'] as const) await run(step);
    await run('finishSecret');
    expect(h.resealed).toEqual(['k1', 'k1']);
    await run('createSecret');
    expect(h.sm.valueAt('AWSCURRENT')).toBe(pending);
  });

  test('testSecret refuses a pending ring that drops a key', async () => {
    const k1 = generateDataKey();
    const h = harness(serializeKeyring({ current: 'k1', keys: { k1, k2: generateDataKey() }, next: 'k2', stagedAt: T0.toISOString() }));
    const token = h.sm.startRotation();
    const run = (step: RotationStep) => rotateSecret({ SecretId: DATA_ARN, ClientRequestToken: token, Step: step }, h.deps);
    // Someone put a pending version by hand that lost k2.
    await h.deps.client.send(
      new PutSecretValueCommand({
        SecretId: DATA_ARN,
        ClientRequestToken: token,
        SecretString: serializeKeyring({ current: 'k1', keys: { k1 } }),
        VersionStages: ['AWSPENDING'],
      }),
    );
    await run('createSecret');
    await expect(run('testSecret')).rejects.toThrow('the pending data keyring drops or changes key k2');
  });

  test('logs name key ids and counts, never key material', async () => {
    const h = harness(generateDataKey());
    await h.rotate(DATA_ARN);
    h.advance(30 * 86_400);
    await h.rotate(DATA_ARN);
    const keys = Object.values(parseKeyring(h.sm.valueAt('AWSCURRENT') ?? '').keys);
    const text = h.logs.join('\n');
    for (const key of keys) expect(text).not.toContain(key);
    expect(text).toContain('"staged":"k3"');
  });
});

describe('rotation of the root key', () => {
  const OLD = 'root_initial_0123456789abcdefghijklmnopqrstu';

  test('a new current key, and the old one valid for the hand-over period only', async () => {
    const h = harness(OLD);
    await h.rotate(ROOT_ARN);
    const keys = parseRootKeys(h.sm.valueAt('AWSCURRENT') ?? '');
    expect(keys.previous).toBe(OLD);
    expect(keys.current).toMatch(/^root_/);
    expect(keys.previousExpiresAt).toBe(new Date(T0.getTime() + 86_400_000).toISOString());
    expect(validRootKeys(keys, h.now())).toEqual([keys.current, OLD]);
    expect(validRootKeys(keys, new Date(T0.getTime() + 86_400_000))).toEqual([keys.current]);
    expect(h.resealed).toEqual([]);
    expect(h.logs.join('\n')).not.toContain(keys.current);
  });

  test('the next rotation hands over from the second key and forgets the first', async () => {
    const h = harness(OLD);
    await h.rotate(ROOT_ARN);
    const second = parseRootKeys(h.sm.valueAt('AWSCURRENT') ?? '').current;
    h.advance(90 * 86_400);
    await h.rotate(ROOT_ARN);
    const keys = parseRootKeys(h.sm.valueAt('AWSCURRENT') ?? '');
    expect(keys.previous).toBe(second);
    expect(JSON.stringify(keys)).not.toContain(OLD);
  });
});

describe('what the function refuses', () => {
  test('a secret other than the two it rotates, a secret without rotation, a version that is not pending', async () => {
    const h = harness(generateDataKey());
    const token = h.sm.startRotation();
    await expect(
      rotateSecret(
        { SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:other', ClientRequestToken: token, Step: 'createSecret' },
        h.deps,
      ),
    ).rejects.toThrow('rotates the Sluice root key and data keyring only');
    await expect(rotateSecret({ SecretId: DATA_ARN, ClientRequestToken: 'no-such-version', Step: 'createSecret' }, h.deps)).rejects.toThrow(
      'has no staging label for rotation',
    );
    h.sm.versions.set('stray', { value: 'x', stages: new Set() });
    await expect(rotateSecret({ SecretId: DATA_ARN, ClientRequestToken: 'stray', Step: 'createSecret' }, h.deps)).rejects.toThrow(
      'is not AWSPENDING',
    );
    h.sm.rotationEnabled = false;
    await expect(rotateSecret({ SecretId: DATA_ARN, ClientRequestToken: token, Step: 'createSecret' }, h.deps)).rejects.toThrow(
      'not enabled for rotation',
    );
  });
});
