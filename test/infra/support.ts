/**
 * Shared by the infra tests: a synthesised Sluice stack (esbuild skipped: `aws:cdk:bundling-stacks: []`,
 * so the entry files must exist but are never bundled) and readers for the template's JSON.
 */
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { readSluiceConfig } from '#infra/config';
import type { QueueName } from '#infra/description';
import { SluiceStack } from '#infra/sluice-stack';
import { keys } from '#lib/aws/ledger-keys';

export const synthTimeoutMs = 120_000;

export interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export interface PolicyStatementJson {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly Principal?: unknown;
}

export function createSluiceStack(context: Record<string, unknown> = {}): { app: App; stack: SluiceStack } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new SluiceStack(app, 'Sluice', { config: readSluiceConfig(app) });
  return { app, stack };
}

/** The logical ID of a construct's CloudFormation resource (its default child for L2s). */
export function logicalIdOf(construct: IConstruct): string {
  const element = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(element instanceof CfnElement)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(element).getLogicalId(element);
}

export function resourcesOfType(template: Template, type: string): Record<string, CfnResourceJson> {
  return template.findResources(type) as Record<string, CfnResourceJson>;
}

export function resource(template: Template, logicalId: string): CfnResourceJson {
  const found = template.toJSON().Resources?.[logicalId] as CfnResourceJson | undefined;
  if (!found) throw new Error(`No resource ${logicalId} in the template`);
  return found;
}

/** A function's environment variables, by its logical ID. */
export function environmentOf(template: Template, functionId: string): Record<string, unknown> {
  const environment = resource(template, functionId).Properties?.Environment as { Variables?: Record<string, unknown> } | undefined;
  return environment?.Variables ?? {};
}

export function statementsOf(document: unknown): PolicyStatementJson[] {
  return (document as { Statement?: PolicyStatementJson[] } | undefined)?.Statement ?? [];
}

export function actionsOf(statement: PolicyStatementJson): string[] {
  return [statement.Action].flat();
}

export function refOf(value: unknown): string {
  const ref = (value as { Ref?: unknown } | undefined)?.Ref;
  if (typeof ref !== 'string') throw new Error(`Expected a Ref, got ${JSON.stringify(value)}`);
  return ref;
}

export function getAttOf(value: unknown): [string, string] {
  const getAtt = (value as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  if (!Array.isArray(getAtt) || getAtt.length !== 2) throw new Error(`Expected Fn::GetAtt, got ${JSON.stringify(value)}`);
  return [String(getAtt[0]), String(getAtt[1])];
}

export type QueueRef = `${QueueName}` | `${QueueName} dead letters`;
export type SecretRef = 'root key' | 'root key verifier' | 'encryption key';

/** What one function's role may do, read back from the template and sorted into kinds. */
export interface FunctionPermissions {
  /** DynamoDB actions on the table ARN (never Query, listed apart). */
  readonly tableActions: string[];
  /** `table` or the index name, for each Query resource. */
  readonly queries: string[];
  readonly sends: QueueRef[];
  readonly secrets: SecretRef[];
  /** Secrets it may put a new current version of (`secretsmanager:PutSecretValue` alone). */
  readonly secretWrites: SecretRef[];
  /** Secrets whose KMS decryption is granted (through Secrets Manager, for that secret only). */
  readonly decrypts: SecretRef[];
  /** Secrets it may rotate: the four actions of Secrets Manager's rotation steps on that secret. */
  readonly rotates: SecretRef[];
  /** Secrets whose new versions it may encrypt and old ones decrypt (KMS through Secrets Manager, for that secret only). */
  readonly rotationKeyUse: SecretRef[];
  /** Log groups it may write to (logical IDs). */
  readonly logGroups: string[];
  /** Queues it consumes (the event source's grant). */
  readonly consumes: QueueRef[];
  /** Actions on the ledger's stream ARN (a stream event source's grant). */
  readonly streamActions: string[];
  /** Actions granted on `"*"` (IAM offers dynamodb:ListStreams on nothing narrower). */
  readonly anyResourceActions: string[];
  /** Stream consumers whose failure queue it may send to (the on-failure destination's grant), by consumer name. */
  readonly failureDestinations: string[];
  /** Item actions on the table limited to the idempotency records' partition (`dynamodb:LeadingKeys`). */
  readonly idempotencyRecordActions: string[];
  /** Anything the sorting above did not recognise: must stay empty. */
  readonly unexpected: PolicyStatementJson[];
}

const eventSourceActions = [
  'sqs:ReceiveMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueUrl',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
].sort();

/** What a rotation function does to a secret (`Storage.grantRotateSecret`), sorted. */
const rotationActions = [
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
];

/** What `SqsDlq` grants on a failure queue (`grantSendMessages`). */
const failureDestinationActions = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];

/** Every function's permissions, by function name, from the IAM policies attached to its role. */
export function permissionsByFunction(stack: SluiceStack, template: Template): Map<string, FunctionPermissions> {
  const tableId = logicalIdOf(stack.storage.table);
  const queueRefs = new Map<string, QueueRef>();
  for (const name of Object.keys(stack.storage.queues) as QueueName[]) {
    queueRefs.set(logicalIdOf(stack.storage.queues[name].queue), name);
    queueRefs.set(logicalIdOf(stack.storage.queues[name].deadLetterQueue), `${name} dead letters`);
  }
  const secretRefs = new Map<string, SecretRef>([
    [logicalIdOf(stack.storage.rootKey), 'root key'],
    [logicalIdOf(stack.storage.rootKeyVerifier), 'root key verifier'],
    [logicalIdOf(stack.storage.encryptionKey), 'encryption key'],
  ]);
  const failureQueueOwners = new Map([...stack.storage.failureQueues.values()].map((f) => [logicalIdOf(f.queue), f.consumer]));
  const keyId = logicalIdOf(stack.storage.secretsKey);
  const roleNames = new Map([...stack.functions].map(([name, fn]) => [logicalIdOf(fn.role), name]));

  const result = new Map<string, FunctionPermissions>(
    [...stack.functions.keys()].map((name) => [
      name,
      {
        tableActions: [],
        queries: [],
        sends: [],
        secrets: [],
        secretWrites: [],
        decrypts: [],
        rotates: [],
        rotationKeyUse: [],
        logGroups: [],
        consumes: [],
        streamActions: [],
        anyResourceActions: [],
        failureDestinations: [],
        idempotencyRecordActions: [],
        unexpected: [],
      },
    ]),
  );

  for (const policy of Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))) {
    const roles = ((policy.Properties?.Roles as unknown[] | undefined) ?? []).map(refOf);
    for (const role of roles) {
      const name = roleNames.get(role);
      if (!name) throw new Error(`Policy attached to ${role}, which is no Sluice function role`);
      const permissions = result.get(name) as FunctionPermissions;
      for (const statement of statementsOf(policy.Properties?.PolicyDocument)) {
        if (!sortStatement(statement, permissions)) permissions.unexpected.push(statement);
      }
    }
  }
  return result;

  /** Files the statement under its kind; false when it is of no known kind. */
  function sortStatement(statement: PolicyStatementJson, permissions: FunctionPermissions): boolean {
    const actions = actionsOf(statement).sort();
    const resources = [statement.Resource].flat();
    if (statement.Effect !== 'Allow' || resources.length === 0) return false;

    if (actions.every((action) => action.startsWith('logs:'))) {
      if (JSON.stringify(actions) !== JSON.stringify(['logs:CreateLogStream', 'logs:PutLogEvents'])) return false;
      for (const logResource of resources) permissions.logGroups.push(getAttOf(logResource)[0]);
      return true;
    }
    if (JSON.stringify(actions) === JSON.stringify(eventSourceActions)) {
      for (const queueResource of resources) {
        const ref = queueRefs.get(getAttOf(queueResource)[0]);
        if (!ref) return false;
        permissions.consumes.push(ref);
      }
      return true;
    }
    if (JSON.stringify(resources) === JSON.stringify(['*'])) {
      if (statement.Condition || JSON.stringify(actions) !== JSON.stringify(['dynamodb:ListStreams'])) return false;
      permissions.anyResourceActions.push(...actions);
      return true;
    }
    if (JSON.stringify(actions) === JSON.stringify(failureDestinationActions)) {
      for (const queueResource of resources) {
        const consumer = failureQueueOwners.get(getAttOf(queueResource)[0]);
        if (!consumer || getAttOf(queueResource)[1] !== 'Arn') return false;
        permissions.failureDestinations.push(consumer);
      }
      return true;
    }
    if (actions.every((action) => action.startsWith('dynamodb:'))) {
      if (statement.Condition) {
        const onlyIdempotencyRecords = { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [keys.idempotencyRecords()] } };
        if (JSON.stringify(statement.Condition) !== JSON.stringify(onlyIdempotencyRecords)) return false;
        if (JSON.stringify(resources) !== JSON.stringify([{ 'Fn::GetAtt': [tableId, 'Arn'] }])) return false;
        permissions.idempotencyRecordActions.push(...actions);
        return true;
      }
      if (resources.some((r) => JSON.stringify(r) === JSON.stringify({ 'Fn::GetAtt': [tableId, 'StreamArn'] }))) {
        if (resources.length !== 1) return false;
        permissions.streamActions.push(...actions);
        return true;
      }
      if (actions.includes('dynamodb:Query')) {
        if (actions.length !== 1) return false;
        for (const queryResource of resources) {
          const target = queryTargetOf(queryResource);
          if (!target) return false;
          permissions.queries.push(target);
        }
        return true;
      }
      for (const tableResource of resources) {
        if (JSON.stringify(tableResource) !== JSON.stringify({ 'Fn::GetAtt': [tableId, 'Arn'] })) return false;
      }
      permissions.tableActions.push(...actions);
      return true;
    }
    if (JSON.stringify(actions) === JSON.stringify(['sqs:SendMessage'])) {
      for (const queueResource of resources) {
        const ref = queueRefs.get(getAttOf(queueResource)[0]);
        if (!ref) return false;
        permissions.sends.push(ref);
      }
      return true;
    }
    if (JSON.stringify(actions) === JSON.stringify(['secretsmanager:GetSecretValue'])) {
      for (const secretResource of resources) {
        const ref = secretRefs.get(refOf(secretResource));
        if (!ref) return false;
        permissions.secrets.push(ref);
      }
      return true;
    }
    if (JSON.stringify(actions) === JSON.stringify(['secretsmanager:PutSecretValue'])) {
      for (const secretResource of resources) {
        const ref = secretRefs.get(refOf(secretResource));
        if (!ref) return false;
        permissions.secretWrites.push(ref);
      }
      return true;
    }
    if (JSON.stringify(actions) === JSON.stringify(rotationActions)) {
      for (const secretResource of resources) {
        const ref = secretRefs.get(refOf(secretResource));
        if (!ref) return false;
        permissions.rotates.push(ref);
      }
      return true;
    }
    const kmsUse =
      JSON.stringify(actions) === JSON.stringify(['kms:Decrypt'])
        ? permissions.decrypts
        : JSON.stringify(actions) === JSON.stringify(['kms:Decrypt', 'kms:GenerateDataKey'])
          ? permissions.rotationKeyUse
          : undefined;
    if (kmsUse) {
      const onKey = resources.length === 1 && JSON.stringify(resources[0]) === JSON.stringify({ 'Fn::GetAtt': [keyId, 'Arn'] });
      const conditions = statement.Condition?.StringEquals ?? {};
      const viaSecretsManager = JSON.stringify(conditions['kms:ViaService']).includes('"secretsmanager."');
      const secret = secretRefs.get(refOf(conditions['kms:EncryptionContext:SecretARN']));
      if (!onKey || !viaSecretsManager || !secret || Object.keys(statement.Condition ?? {}).length !== 1) return false;
      kmsUse.push(secret);
      return true;
    }
    return false;
  }

  function queryTargetOf(queryResource: unknown): string | undefined {
    if (JSON.stringify(queryResource) === JSON.stringify({ 'Fn::GetAtt': [tableId, 'Arn'] })) return 'table';
    const join = (queryResource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join?.[0] !== '' || join[1].length !== 2) return undefined;
    const [arn, suffix] = join[1];
    if (JSON.stringify(arn) !== JSON.stringify({ 'Fn::GetAtt': [tableId, 'Arn'] }) || typeof suffix !== 'string') return undefined;
    return suffix.match(/^\/index\/([A-Za-z0-9_.-]+)$/)?.[1];
  }
}
