/**
 * The rotation function's four steps against an in-memory Secrets Manager that keeps versions and
 * staging labels the way the service does (a rotation starts with an empty AWSPENDING version;
 * moving AWSCURRENT moves AWSPREVIOUS to the version it left), and the root key's verifier it
 * writes: after a root-key rotation, for the stack's custom resource, and on demand.
 */
import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import {
  handleKeyEvent,
  type RotationDeps,
  type RotationStep,
  rotateSecret,
  VERIFIER_RESOURCE_ID,
} from '../../../../functions/lib/aws/key-rotation.ts';
import type { ResealReport } from '../../../../functions/lib/aws/reseal.ts';
import { hashKey } from '../../../../functions/lib/core/access.ts';
import { generateDataKey, PROMOTE_AFTER_SECONDS, parseKeyring, serializeKeyring } from '../../../../functions/lib/crypto/keyring.ts';
import { parseRootKeys, parseRootKeyVerifier, validRootKeyHashes } from '../../../../functions/lib/crypto/root-keys.ts';
import type { SecretBox } from '../../../../functions/lib/crypto/secret-box.ts';

const ROOT_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:StorageRootKey-AbCdEf';
const DATA_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:StorageEncryptionKey-GhIjKl';
const VERIFIER_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:StorageRootKeyVerifier-MnOpQr';
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

  /** No initial value: an empty secret, as CloudFormation creates the verifier. */
  constructor(initial?: string) {
    if (initial !== undefined) this.versions.set('v0', { value: initial, stages: new Set(['AWSCURRENT']) });
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

  handle(command: { constructor: { name: string }; input: Record<string, unknown> }): unknown {
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
        const token = String(input.ClientRequestToken ?? `auto-${++this.counter}`);
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
  const verifier = new FakeSecretsManager();
  let now = T0;
  const resealed: string[] = [];
  const logs: string[] = [];
  const deps: RotationDeps = {
    // The secret under rotation, or the verifier.
    client: {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) =>
        (command.input.SecretId === VERIFIER_ARN ? verifier : sm).handle(command),
    } as unknown as SecretsManagerClient,
    rootKeySecretArn: ROOT_ARN,
    encryptionKeySecretArn: DATA_ARN,
    rootKeyVerifierArn: VERIFIER_ARN,
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
    verifier,
    /** The verifier the functions would read now, if any. */
    verifierNow: () => {
      const text = verifier.valueAt('AWSCURRENT');
      return text === undefined ? undefined : parseRootKeyVerifier(text);
    },
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
    expect(h.resealed).toEqual([]);
    expect(h.logs.join('\n')).not.toContain(keys.current);
  });

  test("finishSecret writes the verifier: the functions accept both keys' hashes until the hand-over ends, then the new one's", async () => {
    const h = harness(OLD);
    expect(h.verifierNow()).toBeUndefined();
    await h.rotate(ROOT_ARN);
    const keys = parseRootKeys(h.sm.valueAt('AWSCURRENT') ?? '');
    const verifier = h.verifierNow();
    expect(verifier).toEqual({
      current: hashKey(keys.current),
      previous: { hash: hashKey(OLD), until: new Date(T0.getTime() + 86_400_000).toISOString() },
    });
    if (!verifier) throw new Error('no verifier');
    expect(validRootKeyHashes(verifier, new Date(T0.getTime() + 86_399_999))).toEqual([hashKey(keys.current), hashKey(OLD)]);
    expect(validRootKeyHashes(verifier, new Date(T0.getTime() + 86_400_000))).toEqual([hashKey(keys.current)]);
    // Hashes only: neither key is in it.
    const text = h.verifier.valueAt('AWSCURRENT') ?? '';
    expect(text).not.toContain(OLD);
    expect(text).not.toContain(keys.current);
  });

  test('a rotation that stops before finishSecret leaves the verifier as it was; a retried finishSecret writes it', async () => {
    const h = harness(OLD);
    await handleKeyEvent({ action: 'sync-root-key-verifier' }, h.deps);
    const before = h.verifier.valueAt('AWSCURRENT');
    expect(h.verifierNow()).toEqual({ current: hashKey(OLD) });
    const token = h.sm.startRotation();
    const run = (step: RotationStep) => rotateSecret({ SecretId: ROOT_ARN, ClientRequestToken: token, Step: step }, h.deps);
    for (const step of ['createSecret', 'setSecret', 'testSecret'] as const) await run(step);
    expect(h.verifier.valueAt('AWSCURRENT')).toBe(before);
    await run('finishSecret');
    const current = parseRootKeys(h.sm.valueAt('AWSCURRENT') ?? '').current;
    expect(h.verifierNow()?.current).toBe(hashKey(current));
    // The labels moved but the write was lost: Secrets Manager's retry of finishSecret writes it again.
    h.verifier.versions.clear();
    await run('finishSecret');
    expect(h.verifierNow()?.current).toBe(hashKey(current));
  });

  test('a data-keyring rotation does not touch the verifier', async () => {
    const h = harness(generateDataKey());
    await h.rotate(DATA_ARN);
    expect(h.verifierNow()).toBeUndefined();
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

describe('the first verifier, at deploy time (the custom resource) and by hand', () => {
  const OLD = 'root_initial_0123456789abcdefghijklmnopqrstu';

  function customResource(requestType: 'Create' | 'Update' | 'Delete'): CloudFormationCustomResourceEvent {
    const common = {
      ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:rotate-keys',
      ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/signed',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Sluice/1',
      RequestId: 'request-1',
      LogicalResourceId: 'KeyRotationRootKeyVerifierSync',
      ResourceType: 'Custom::SluiceRootKeyVerifier',
      ResourceProperties: { ServiceToken: 'arn', RootKeySecretArn: ROOT_ARN, VerifierSecretArn: VERIFIER_ARN },
    };
    if (requestType === 'Create') return { ...common, RequestType: 'Create' };
    if (requestType === 'Update')
      return {
        ...common,
        RequestType: 'Update',
        PhysicalResourceId: VERIFIER_RESOURCE_ID,
        OldResourceProperties: common.ResourceProperties,
      };
    return { ...common, RequestType: 'Delete', PhysicalResourceId: VERIFIER_RESOURCE_ID };
  }

  function answers() {
    const sent: { url: string; body: Record<string, unknown> }[] = [];
    return { sent, putResponse: async (url: string, body: string) => void sent.push({ url, body: JSON.parse(body) }) };
  }

  test('Create writes the verifier of the key CloudFormation generated, then answers SUCCESS to the response URL', async () => {
    const h = harness(OLD);
    const { sent, putResponse } = answers();
    await handleKeyEvent(customResource('Create'), { ...h.deps, putResponse });
    expect(h.verifierNow()).toEqual({ current: hashKey(OLD) });
    expect(sent).toEqual([
      {
        url: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/signed',
        body: {
          Status: 'SUCCESS',
          Reason: 'done',
          PhysicalResourceId: VERIFIER_RESOURCE_ID,
          StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Sluice/1',
          RequestId: 'request-1',
          LogicalResourceId: 'KeyRotationRootKeyVerifierSync',
        },
      },
    ]);
  });

  test('Update writes it again from the key in place, hand-over included; Delete writes nothing', async () => {
    const h = harness(OLD);
    await h.rotate(ROOT_ARN);
    h.verifier.versions.clear();
    const { sent, putResponse } = answers();
    await handleKeyEvent(customResource('Update'), { ...h.deps, putResponse });
    expect(h.verifierNow()?.previous?.hash).toBe(hashKey(OLD));
    h.verifier.versions.clear();
    await handleKeyEvent(customResource('Delete'), { ...h.deps, putResponse });
    expect(h.verifierNow()).toBeUndefined();
    expect(sent.map((answer) => [answer.body.Status, answer.body.PhysicalResourceId])).toEqual([
      ['SUCCESS', VERIFIER_RESOURCE_ID],
      ['SUCCESS', VERIFIER_RESOURCE_ID],
    ]);
  });

  test('a root key it cannot read fails the deploy with the reason, rather than leave CloudFormation waiting', async () => {
    const h = harness('short');
    const { sent, putResponse } = answers();
    await handleKeyEvent(customResource('Create'), { ...h.deps, putResponse });
    expect(sent[0]?.body).toMatchObject({ Status: 'FAILED', Reason: 'the root key must be at least 16 characters' });
    expect(h.verifierNow()).toBeUndefined();
  });

  test('by hand, after the secret was edited (a hand-over ended early): the verifier follows it', async () => {
    const h = harness(OLD);
    await h.rotate(ROOT_ARN);
    const current = parseRootKeys(h.sm.valueAt('AWSCURRENT') ?? '').current;
    await h.deps.client.send(new PutSecretValueCommand({ SecretId: ROOT_ARN, ClientRequestToken: 'by-hand', SecretString: current }));
    await handleKeyEvent({ action: 'sync-root-key-verifier' }, h.deps);
    expect(h.verifierNow()).toEqual({ current: hashKey(current) });
    expect(h.logs.join('\n')).not.toContain(current);
  });

  test('refuses an event it does not know', async () => {
    const h = harness(OLD);
    await expect(
      handleKeyEvent({ action: 'rotate-everything' } as unknown as Parameters<typeof handleKeyEvent>[0], h.deps),
    ).rejects.toThrow('does not know the event');
  });
});
