/**
 * Secrets Manager rotation of Sluice's two secrets, in the four steps Secrets Manager invokes the
 * rotation function with (createSecret, setSecret, testSecret, finishSecret), moving the
 * AWSPENDING and AWSCURRENT staging labels as its rotation template does.
 *
 * - Root key: a new current key; the old one stays valid as `previous` for a hand-over period
 *   (`previousExpiresAt`), so operators switch without a moment when neither key works. finishSecret
 *   then writes the key's verifier (its hashes and the hand-over's end), which is all the
 *   authenticating functions may read: this function alone reads the root key.
 * - Data keyring: the key staged at the last rotation starts sealing and a new key is staged
 *   (`rotateStaged`): functions re-read the ring every few minutes, so each key reaches all of them
 *   a whole rotation period before anything is sealed under it. finishSecret then re-seals the
 *   ledger under the new current key (`resealLedger`).
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { type Keyring, KeyringError, parseKeyring, rotateStaged, StagedKeyTooYoungError, serializeKeyring } from '../crypto/keyring.ts';
import { parseRootKeys, rootKeyVerifier, rotateRootKeys, serializeRootKeys, serializeRootKeyVerifier } from '../crypto/root-keys.ts';
import { SecretBox } from '../crypto/secret-box.ts';
import { answerCustomResource, type PutResponse } from './custom-resource.ts';
import type { ResealReport } from './reseal.ts';

export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

export interface RotationEvent {
  readonly Step: RotationStep;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
}

export interface RotationDeps {
  readonly client: SecretsManagerClient;
  /** The ARNs of the two secrets this function may rotate. */
  readonly rootKeySecretArn: string;
  readonly encryptionKeySecretArn: string;
  /** The secret holding the root key's verifier, which this function alone writes. */
  readonly rootKeyVerifierArn: string;
  /** How long the replaced root key keeps working. */
  readonly rootKeyHandOverSeconds: number;
  readonly reseal: (box: SecretBox) => Promise<ResealReport>;
  readonly now: () => Date;
  /** Never given a key: ids, counts and steps only. */
  readonly log: (message: string, details?: Record<string, unknown>) => void;
}

type SecretKind = 'root key' | 'data keyring';

export async function rotateSecret(event: RotationEvent, deps: RotationDeps): Promise<void> {
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  const kind = kindOf(secretId, deps);
  const metadata = await deps.client.send(new DescribeSecretCommand({ SecretId: secretId }));
  if (!metadata.RotationEnabled) throw new Error(`the ${kind} secret is not enabled for rotation`);
  const stages = metadata.VersionIdsToStages?.[token];
  if (!stages) throw new Error(`version ${token} of the ${kind} secret has no staging label for rotation`);
  if (stages.includes('AWSCURRENT')) {
    // A retried finishSecret whose labels already moved: the re-seal or the verifier may not be done.
    if (step === 'finishSecret') await afterFinish(kind, secretId, token, deps);
    else deps.log('rotation step skipped: the version is already current', { kind, step });
    return;
  }
  if (!stages.includes('AWSPENDING')) throw new Error(`version ${token} of the ${kind} secret is not AWSPENDING`);

  switch (step) {
    case 'createSecret':
      return createSecret(kind, secretId, token, deps);
    case 'setSecret':
      // Nothing to change yet: the verifier follows the root key once it is current (finishSecret),
      // so a rotation that fails before then leaves the key in use, and its hand-over, as they were.
      return;
    case 'testSecret':
      return testSecret(kind, secretId, token, deps);
    case 'finishSecret':
      await finishSecret(secretId, token, metadata.VersionIdsToStages ?? {}, deps);
      deps.log('rotation finished', { kind });
      await afterFinish(kind, secretId, token, deps);
      return;
    default:
      throw new Error(`unknown rotation step ${String(step)}`);
  }
}

/** What follows the move of AWSCURRENT: the re-seal (data keyring), the verifier (root key). */
async function afterFinish(kind: SecretKind, secretId: string, token: string, deps: RotationDeps): Promise<void> {
  if (kind === 'data keyring') await reseal(secretId, token, deps);
  else await syncRootKeyVerifier(deps);
}

/**
 * Writes the verifier of the root key's AWSCURRENT version (a pure function of it, so writing it
 * again is harmless): after a rotation, at deploy time (the stack's custom resource), and on demand
 * after the secret was changed by hand (`{"action":"sync-root-key-verifier"}`).
 */
export async function syncRootKeyVerifier(deps: RotationDeps): Promise<void> {
  const verifier = rootKeyVerifier(parseRootKeys(await read(deps.client, deps.rootKeySecretArn, { stage: 'AWSCURRENT' })));
  await deps.client.send(
    new PutSecretValueCommand({ SecretId: deps.rootKeyVerifierArn, SecretString: serializeRootKeyVerifier(verifier) }),
  );
  deps.log('root-key verifier written', { handOver: verifier.previous ? (verifier.previous.until ?? 'until finished') : 'none' });
}

/** Asks for the verifier to be written again, e.g. after the root-key secret was edited by hand. */
export interface SyncVerifierEvent {
  readonly action: 'sync-root-key-verifier';
}

/** Everything `rotate-keys` is invoked with: Secrets Manager's rotation steps, the stack's custom resource, a sync by hand. */
export type KeyEvent = RotationEvent | CloudFormationCustomResourceEvent | SyncVerifierEvent;

/** The stack's custom resource that writes the first verifier (infra/constructs/key-rotation.ts). */
export const VERIFIER_RESOURCE_ID = 'sluice-root-key-verifier';

export async function handleKeyEvent(event: KeyEvent, deps: RotationDeps & { readonly putResponse?: PutResponse }): Promise<void> {
  if ('Step' in event) return rotateSecret(event, deps);
  if ('RequestType' in event) {
    // Create and Update write the verifier of the key in place; on Delete the secret goes with the stack.
    const outcome = await answerCustomResource(
      event,
      VERIFIER_RESOURCE_ID,
      () => (event.RequestType === 'Delete' ? Promise.resolve() : syncRootKeyVerifier(deps)),
      deps.putResponse,
    );
    deps.log('custom resource answered', { requestType: event.RequestType, ...outcome });
    return;
  }
  if (event.action === 'sync-root-key-verifier') return syncRootKeyVerifier(deps);
  throw new Error(`rotate-keys does not know the event ${JSON.stringify(event)}`);
}

function kindOf(secretId: string, deps: RotationDeps): SecretKind {
  if (secretId === deps.rootKeySecretArn) return 'root key';
  if (secretId === deps.encryptionKeySecretArn) return 'data keyring';
  throw new Error(`this function rotates the Sluice root key and data keyring only, not ${secretId}`);
}

async function read(client: SecretsManagerClient, secretId: string, version: { stage: string; id?: string }): Promise<string> {
  const { SecretString } = await client.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: version.stage, ...(version.id && { VersionId: version.id }) }),
  );
  if (!SecretString) throw new Error(`the ${version.stage} version of ${secretId} has no string value`);
  return SecretString;
}

async function createSecret(kind: SecretKind, secretId: string, token: string, deps: RotationDeps): Promise<void> {
  const current = await read(deps.client, secretId, { stage: 'AWSCURRENT' });
  try {
    await read(deps.client, secretId, { stage: 'AWSPENDING', id: token });
    deps.log('createSecret: the pending version exists already', { kind });
    return;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceNotFoundException')) throw error;
  }
  const now = deps.now();
  let pending: string;
  if (kind === 'root key') {
    pending = serializeRootKeys(rotateRootKeys(parseRootKeys(current), now, deps.rootKeyHandOverSeconds));
  } else {
    const before = parseKeyring(current);
    let ring: Keyring;
    try {
      ring = rotateStaged(before, now);
    } catch (error) {
      if (!(error instanceof StagedKeyTooYoungError)) throw error;
      // Failing here would leave an empty pending version, which blocks every later rotation
      // (scheduled ones too) until someone clears it: the rotation completes with the ring unchanged.
      deps.log('createSecret: data keyring left as it is', { reason: error.message });
      ring = before;
    }
    pending = serializeKeyring(ring);
    deps.log('createSecret: data keyring rotated', { current: ring.current, staged: ring.next, keys: Object.keys(ring.keys) });
  }
  await deps.client.send(
    new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: token, SecretString: pending, VersionStages: ['AWSPENDING'] }),
  );
}

async function testSecret(kind: SecretKind, secretId: string, token: string, deps: RotationDeps): Promise<void> {
  const current = await read(deps.client, secretId, { stage: 'AWSCURRENT' });
  const pending = await read(deps.client, secretId, { stage: 'AWSPENDING', id: token });
  if (kind === 'root key') {
    const before = parseRootKeys(current);
    const after = parseRootKeys(pending);
    // The hand-over must keep the key operators hold now working.
    if (after.previous !== before.current || after.current === before.current) {
      throw new Error('the pending root key does not hand over from the current one');
    }
    return;
  }
  const before = parseKeyring(current);
  const after = parseKeyring(pending);
  checkKeepsEveryKey(before, after);
  const box = new SecretBox(after);
  if (box.open(box.seal('rotation test')) !== 'rotation test') throw new Error('the pending data keyring cannot seal and open');
}

/** A ring that lost a key would leave whatever it sealed unreadable. */
function checkKeepsEveryKey(before: Keyring, after: Keyring): void {
  for (const [id, key] of Object.entries(before.keys)) {
    if (after.keys[id] !== key) throw new KeyringError(`the pending data keyring drops or changes key ${id}`);
  }
}

async function finishSecret(
  secretId: string,
  token: string,
  versions: Record<string, readonly string[]>,
  deps: RotationDeps,
): Promise<void> {
  const currentVersion = Object.entries(versions).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];
  await deps.client.send(
    new UpdateSecretVersionStageCommand({
      SecretId: secretId,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: token,
      ...(currentVersion && { RemoveFromVersionId: currentVersion }),
    }),
  );
  await deps.client.send(
    new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: token }),
  );
}

async function reseal(secretId: string, token: string, deps: RotationDeps): Promise<void> {
  const ring = await read(deps.client, secretId, { stage: 'AWSCURRENT', id: token });
  const report = await deps.reseal(new SecretBox(ring));
  deps.log('re-seal finished', { ...report });
  if (report.unreadable.length > 0) {
    // Not a reason to fail the rotation (retrying would not help), but someone must look.
    deps.log('re-seal met values it cannot open', { unreadable: report.unreadable });
  }
}
