/**
 * Least privilege, read back from the synthesised IAM policies: every function's DynamoDB
 * actions, queries, queue sends and secrets, against a matrix written out here on purpose (a
 * grant changes only when this file changes too), plus the invariants behind it.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { functionAccess, tableActionsByLevel } from '#infra/access';
import type { QueueName } from '#infra/description';
import type { SluiceStack } from '#infra/sluice-stack';
import { routeSpecs, routeTable } from '#lib/api/routes';
import { envNames } from '#lib/env';
import {
  actionsOf,
  createSluiceStack,
  environmentOf,
  type FunctionPermissions,
  logicalIdOf,
  permissionsByFunction,
  type QueueRef,
  refOf,
  resourcesOfType,
  type SecretRef,
  statementsOf,
  synthTimeoutMs,
} from './support.ts';

const get = ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'];
const levels = {
  none: [],
  read: get,
  write: [...get, 'dynamodb:PutItem'],
  record: [...get, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem'],
  delete: [...get, 'dynamodb:DeleteItem'],
} as const;

type Level = keyof typeof levels;
type Row = readonly [level: Level, queries: readonly string[], sends: readonly QueueRef[], authenticates: boolean];

const lanes: QueueRef[] = ['delivery', 'retry'];

/** One row per function: table level, Query targets, queues it sends to, and whether it authenticates callers. */
const expected: Record<string, Row> = {
  'create-tenant': ['write', [], [], true],
  'list-tenants': ['read', ['gsi1'], [], true],
  'update-tenant': ['write', [], [], true],
  'create-api-key': ['write', [], [], true],
  'list-api-keys': ['read', ['table'], [], true],
  'delete-api-key': ['delete', [], [], true],
  'reveal-api-key': ['read', [], [], true],
  'create-portal-session': ['read', [], [], true],
  'get-current-portal-session': ['read', [], [], true],
  'put-event-type': ['write', [], [], true],
  'list-event-types': ['read', ['table'], [], true],
  'get-event-type': ['read', [], [], true],
  'delete-event-type': ['delete', [], [], true],
  'create-endpoint': ['write', ['table'], [], true],
  'list-endpoints': ['read', ['table'], [], true],
  'get-endpoint': ['read', [], [], true],
  'update-endpoint': ['write', ['gsi3', 'table'], ['delivery'], true],
  'delete-endpoint': ['delete', [], ['retry'], true],
  'get-endpoint-secret': ['read', [], [], true],
  'list-endpoint-deliveries': ['read', ['gsi2', 'gsi3'], [], true],
  'get-endpoint-stats': ['read', ['gsi2'], [], true],
  'create-message': ['write', ['table'], [], true],
  'list-messages': ['read', ['gsi1'], [], true],
  'get-message': ['read', [], [], true],
  'cancel-message': ['read', [], [], true],
  'list-message-deliveries': ['read', ['table'], [], true],
  'get-delivery': ['read', ['table'], [], true],
  'retry-delivery': ['read', [], ['retry'], true],
  'recover-endpoint': ['read', ['gsi3'], ['retry'], true],
  'replay-endpoint': ['write', [], ['retry'], true],
  'get-task': ['read', [], [], true],
  'list-dead-letters': ['read', ['gsi3', 'gsi4'], [], true],
  'redrive-dead-letters': ['write', ['gsi4'], ['retry'], true],
  'rotate-endpoint-secret': ['write', [], [], true],
  'test-endpoint': ['record', ['table'], ['retry'], true],
  'test-endpoint-filter': ['read', [], [], true],
  'test-filter': ['read', [], [], true],
  'get-inbox-item': ['write', [], [], true],
  'ack-inbox-item': ['write', [], [], true],
  'list-inbox': ['read', ['gsi2', 'gsi3'], [], true],
  'create-action': ['write', [], [], true],
  'list-actions': ['read', ['table'], [], true],
  'get-action': ['read', [], [], true],
  'delete-action': ['delete', [], [], true],
  'get-trigger-url': ['read', [], [], true],
  'list-action-triggers': ['read', ['table'], [], true],
  'post-hook': ['write', ['table'], [], true],
  'get-hook': ['write', ['table'], [], true],
  'get-openapi': ['none', [], [], false],
  'get-portal': ['none', [], [], false],
  'no-route': ['none', [], [], false],
  deliver: ['record', ['table'], [...lanes, 'delivery dead letters'], false],
  'deliver-retries': ['record', ['gsi2', 'gsi3', 'table'], ['retry', 'delivery dead letters'], false],
  dispatch: ['none', ['table'], lanes, false],
  sweeper: ['read', ['gsi5'], lanes, false],
  'rotate-keys': ['read', ['gsi1', 'table'], [], false],
};

/** The functions that build no container, so need not even the data key: the two public pages and the `$default` catch-all. */
const withoutDataKey = ['get-openapi', 'get-portal', 'no-route'];

/** The functions that rotate secrets, and which. */
const rotators: Record<string, SecretRef[]> = { 'rotate-keys': ['encryption key', 'root key'] };

/** What a DynamoDB stream event source grants its function, on the ledger's stream ARN. */
const streamRead = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'];
/** The stream consumers: each reads the stream and may send to its own failure queue (the event source's on-failure destination). */
const streamConsumers = ['dispatch'];

const sorted = <T>(values: readonly T[]): T[] => [...values].sort();

describe('least privilege', () => {
  let stack: SluiceStack;
  let permissions: Map<string, FunctionPermissions>;

  beforeAll(() => {
    ({ stack } = createSluiceStack());
    permissions = permissionsByFunction(stack, Template.fromStack(stack));
  }, synthTimeoutMs);

  test('the matrix covers every function, and only functions', () => {
    expect(sorted(Object.keys(expected))).toEqual(sorted([...stack.functions.keys()]));
    expect(sorted(Object.keys(functionAccess))).toEqual(sorted([...stack.functions.keys()]));
  });

  test('the levels of infra/access.ts are the action sets written here', () => {
    for (const level of Object.keys(levels) as Level[]) {
      expect({ level, actions: sorted(tableActionsByLevel[level]) }).toEqual({ level, actions: sorted(levels[level]) });
    }
  });

  test('every function holds exactly the DynamoDB actions, queries and sends of its row', () => {
    const actual = Object.fromEntries(
      [...permissions].map(([name, p]) => [name, { table: sorted(p.tableActions), queries: sorted(p.queries), sends: sorted(p.sends) }]),
    );
    const wanted = Object.fromEntries(
      Object.entries(expected).map(([name, [level, queries, sends]]) => [
        name,
        { table: sorted(levels[level]), queries: sorted(queries), sends: sorted(sends) },
      ]),
    );
    expect(actual).toEqual(wanted);
  });

  test("every function but the catch-all reads the data key; exactly the authenticating ones read the root key's verifier, which needs no KMS grant; KMS decrypts only for the data key", () => {
    for (const [name, p] of permissions) {
      // A rotator's rotation grant includes reading the secret it rotates.
      const rotated = rotators[name] ?? [];
      const dataKey: SecretRef[] = withoutDataKey.includes(name) ? [] : ['encryption key'];
      const decrypts = dataKey.filter((secret) => !rotated.includes(secret));
      const reads: SecretRef[] = expected[name]?.[3] ? [...decrypts, 'root key verifier'] : decrypts;
      expect({ name, secrets: sorted(p.secrets), decrypts: sorted(p.decrypts) }).toEqual({ name, secrets: reads, decrypts });
    }
  });

  test('only the function that rotates the root key writes its verifier, and only that', () => {
    for (const [name, p] of permissions) {
      const wanted: SecretRef[] = rotators[name]?.includes('root key') ? ['root key verifier'] : [];
      expect({ name, writes: p.secretWrites }).toEqual({ name, writes: wanted });
    }
  });

  test('only the rotation function rotates secrets: the four rotation actions on each, and KMS through Secrets Manager for that secret only', () => {
    for (const [name, p] of permissions) {
      const wanted = sorted(rotators[name] ?? []);
      expect({ name, rotates: sorted(p.rotates), keyUse: sorted(p.rotationKeyUse) }).toEqual({ name, rotates: wanted, keyUse: wanted });
    }
    expect(sorted(Object.keys(functionAccess).filter((name) => (functionAccess[name]?.rotates.length ?? 0) > 0))).toEqual(['rotate-keys']);
  });

  test('authenticating routes are exactly the non-public route contracts plus the inbound hooks', () => {
    const hooks = new Set(['post-hook', 'get-hook']);
    expect(routeSpecs.length).toBeGreaterThan(0);
    for (const spec of routeSpecs) {
      const authenticates = spec.access !== 'public' || hooks.has(spec.name);
      expect({ route: spec.name, authenticates: functionAccess[spec.name]?.authenticates }).toEqual({ route: spec.name, authenticates });
    }
  });

  test('the creating routes (Idempotency-Key) may touch idempotency records, and only in their partition', () => {
    const idempotent = new Set<string>(routeSpecs.filter((spec) => spec.idempotent).map((spec) => spec.name));
    expect([...idempotent].sort()).toEqual(
      [
        'create-action',
        'create-api-key',
        'create-endpoint',
        'create-tenant',
        'recover-endpoint',
        'redrive-dead-letters',
        'replay-endpoint',
        'retry-delivery',
        'rotate-endpoint-secret',
        'test-endpoint',
      ].sort(),
    );
    for (const [name, p] of permissions) {
      const wanted = idempotent.has(name) ? ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] : [];
      expect({ name, actions: sorted(p.idempotencyRecordActions) }).toEqual({ name, actions: wanted });
    }
  });

  test('each function writes only its own log group and consumes only its own queue or stream; nothing else is granted', () => {
    const consumed = new Map<string, QueueName>([
      ['deliver', 'delivery'],
      ['deliver-retries', 'retry'],
    ]);
    expect(sorted([...stack.deliveryPipeline.streamConsumers.keys()])).toEqual(streamConsumers);
    for (const [name, p] of permissions) {
      const fn = stack.functions.get(name);
      if (!fn) throw new Error(`No function ${name}`);
      const readsStream = streamConsumers.includes(name);
      expect({
        name,
        logGroups: p.logGroups,
        consumes: p.consumes,
        streamActions: sorted(p.streamActions),
        anyResourceActions: p.anyResourceActions,
        failureDestinations: p.failureDestinations,
        unexpected: p.unexpected,
      }).toEqual({
        name,
        logGroups: [logicalIdOf(fn.logGroup)],
        consumes: consumed.has(name) ? [consumed.get(name)] : [],
        // DescribeStream, GetRecords and GetShardIterator on the stream ARN; ListStreams, which
        // supports no resource-level permissions, alone on "*".
        streamActions: readsStream ? streamRead : [],
        anyResourceActions: readsStream ? ['dynamodb:ListStreams'] : [],
        failureDestinations: readsStream ? [name] : [],
        unexpected: [],
      });
    }
  });

  test('spelled out for the ones that matter most', () => {
    const all = [...permissions.values()];
    // No function scans, describes the table or runs ConditionCheck elements.
    for (const action of ['dynamodb:Scan', 'dynamodb:DescribeTable', 'dynamodb:ConditionCheckItem']) {
      expect(all.flatMap((p) => p.tableActions)).not.toContain(action);
    }
    // Only the functions that make delivery attempts batch-write (first attempts that succeeded).
    const batchWriters = [...permissions].filter(([, p]) => p.tableActions.includes('dynamodb:BatchWriteItem')).map(([name]) => name);
    expect(sorted(batchWriters)).toEqual(['deliver', 'deliver-retries', 'test-endpoint']);
    // Dispatch reads the tenant's endpoints (Query on the table) and queues jobs: no item action at all.
    expect(permissions.get('dispatch')).toMatchObject({ tableActions: [], queries: ['table'], secrets: ['encryption key'] });
    // Only dispatch reads the stream, or holds anything on "*".
    expect([...permissions].filter(([, p]) => p.streamActions.length > 0 || p.anyResourceActions.length > 0).map(([name]) => name)).toEqual(
      ['dispatch'],
    );
    // Only the four delete routes may delete, and none of them may put.
    const deleters = [...permissions].filter(([, p]) => p.tableActions.includes('dynamodb:DeleteItem')).map(([name]) => name);
    expect(sorted(deleters)).toEqual(['delete-action', 'delete-api-key', 'delete-endpoint', 'delete-event-type']);
    for (const name of deleters) expect(permissions.get(name)?.tableActions).not.toContain('dynamodb:PutItem');
    // The public OpenAPI document and the portal's page touch no data, no data key and no root key.
    expect(permissions.get('get-openapi')).toMatchObject({ tableActions: [], queries: [], sends: [], secrets: [], decrypts: [] });
    expect(permissions.get('get-portal')).toMatchObject({ tableActions: [], queries: [], sends: [], secrets: [], decrypts: [] });
    // The $default catch-all answers from the route table: no data, no secret, no key; only its log group.
    expect(permissions.get('no-route')).toMatchObject({ tableActions: [], queries: [], sends: [], secrets: [], decrypts: [] });
    expect(sorted(Object.keys(functionAccess).filter((name) => !functionAccess[name]?.readsDataKey))).toEqual(withoutDataKey);
    // Only the sweeper walks the due-work index.
    expect([...permissions].filter(([, p]) => p.queries.includes('gsi5')).map(([name]) => name)).toEqual(['sweeper']);
    // Ingest and the hooks only store messages; dispatch (and the sweeper, for lost ones) queues them.
    for (const name of ['create-message', 'post-hook', 'get-hook'])
      expect({ name, sends: permissions.get(name)?.sends }).toEqual({ name, sends: [] });
    const primarySenders = [...permissions].filter(([, p]) => p.sends.includes('delivery')).map(([name]) => name);
    expect(sorted(primarySenders)).toEqual(['deliver', 'dispatch', 'sweeper', 'update-endpoint']);
    // The retry consumer and the endpoint test never send to the primary lane; nothing sends to the retry lane's DLQ.
    expect(permissions.get('deliver-retries')?.sends).not.toContain('delivery');
    expect(permissions.get('test-endpoint')?.sends).not.toContain('delivery');
    expect(all.flatMap((p) => p.sends)).not.toContain('retry dead letters');
  });
});

/**
 * The point of the verifier, read straight off the template rather than through the sorting above:
 * a function that authenticates callers can never obtain the root key.
 */
describe('the root key stays with the rotation function', () => {
  let stack: SluiceStack;
  let template: Template;

  beforeAll(() => {
    ({ stack } = createSluiceStack());
    template = Template.fromStack(stack);
  }, synthTimeoutMs);

  /** Every Allow statement of every IAM policy, with the Sluice function whose role it is attached to. */
  function allowStatements() {
    const roleNames = new Map([...stack.functions].map(([name, fn]) => [logicalIdOf(fn.role), name]));
    return Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).flatMap((policy) =>
      ((policy.Properties?.Roles as unknown[] | undefined) ?? []).map(refOf).flatMap((role) =>
        statementsOf(policy.Properties?.PolicyDocument)
          .filter((statement) => statement.Effect === 'Allow')
          .map((statement) => ({ role, name: roleNames.get(role), statement })),
      ),
    );
  }

  test('no function but rotate-keys has any secretsmanager action on the root-key secret, or KMS use on its behalf', () => {
    const rootKeyRef = JSON.stringify({ Ref: logicalIdOf(stack.storage.rootKey) });
    const touching = allowStatements().filter(
      ({ statement }) =>
        JSON.stringify(statement.Resource).includes(rootKeyRef) ||
        JSON.stringify(statement.Resource) === '"*"' ||
        JSON.stringify(statement.Condition ?? {}).includes(rootKeyRef),
    );
    const secretsManagerOrKms = touching.filter(({ statement }) =>
      actionsOf(statement).some((action) => action.startsWith('secretsmanager:') || action.startsWith('kms:')),
    );
    expect(secretsManagerOrKms.length).toBeGreaterThan(0);
    expect([...new Set(secretsManagerOrKms.map(({ name }) => name))]).toEqual(['rotate-keys']);
    // Nor through the secret's own resource policy, nor an environment variable naming it.
    expect(Object.keys(resourcesOfType(template, 'AWS::SecretsManager::ResourcePolicy'))).toEqual([]);
    for (const [name, fn] of stack.functions) {
      const variables = JSON.stringify(environmentOf(template, logicalIdOf(fn.lambdaFunction)));
      expect({ name, namesRootKey: variables.includes(rootKeyRef) }).toEqual({ name, namesRootKey: name === 'rotate-keys' });
    }
  });

  test("every authenticating function may read the root key's verifier, and is told where it is", () => {
    const verifierRef = { Ref: logicalIdOf(stack.storage.rootKeyVerifier) };
    const readers = new Set(
      allowStatements()
        .filter(
          ({ statement }) =>
            actionsOf(statement).includes('secretsmanager:GetSecretValue') &&
            JSON.stringify([statement.Resource].flat()) === JSON.stringify([verifierRef]),
        )
        .map(({ name }) => name),
    );
    const authenticating = Object.keys(functionAccess).filter((name) => functionAccess[name]?.authenticates);
    // Every route but the OpenAPI document and the portal's page authenticates its caller (the hooks included).
    expect(sorted(authenticating)).toEqual(
      sorted(routeTable.map((route) => route.name).filter((name) => name !== 'get-openapi' && name !== 'get-portal')),
    );
    expect(sorted([...readers].map(String))).toEqual(sorted(authenticating));
    for (const name of authenticating) {
      const fn = stack.functions.get(name);
      if (!fn) throw new Error(`No function ${name}`);
      const variables = environmentOf(template, logicalIdOf(fn.lambdaFunction));
      expect(variables[envNames.rootKeyVerifierArn]).toEqual(verifierRef);
    }
  });
});
