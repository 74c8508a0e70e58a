/**
 * `npm run keys -- <command>`: key rotation for the local stack's data dir (SLUICE_DATA_DIR,
 * default ./.sluice). See README "Rotating keys". The stack reads its keys when it starts, so
 * every rotation takes effect at the next start; the re-seal works on a running stack (once it
 * runs with the new key) or on a stopped one (it starts DynamoDB Local on the data dir itself).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LedgerTable } from '../../functions/lib/aws/ledger-table.ts';
import { type ResealReport, resealLedger } from '../../functions/lib/aws/reseal.ts';
import { withNewCurrentKey } from '../../functions/lib/crypto/keyring.ts';
import { finishRootKeyHandOver, rotateRootKeys } from '../../functions/lib/crypto/root-keys.ts';
import { SecretBox } from '../../functions/lib/crypto/secret-box.ts';
import { ledgerTable } from '../description.ts';
import { startDynamoDbLocal } from './dynamodb-local.ts';
import { freePort } from './free-port.ts';
import { localKeysFile, readLocalKeys, readRunningStack, writeLocalKeys } from './local-keys.ts';
import { IN_MEMORY } from './local-stack.ts';

const usage = `Usage: npm run keys -- <command>

Commands (on the data dir SLUICE_DATA_DIR, default ./.sluice):
  status            key ids, the current data key, whether a root-key hand-over is open
  rotate-data-key   add a data key and seal with it from the next start; old keys stay to open old values
  reseal [--dry-run]  rewrite every sealed value that is not under the current data key
                    (on the running stack once it was restarted after the rotation, or on a stopped one)
  rotate-root-key   a new root key from the next start; the old one keeps working until finish-root-key
  finish-root-key   end the hand-over: from the next start only the new root key works
`;

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

type Print = (line: string) => void;

async function runKeysCommand(dataDir: string, args: readonly string[], print: Print): Promise<number> {
  const [command, ...flags] = args;
  if (!command || command === '--help' || command === '-h') {
    print(usage);
    return command ? 0 : 2;
  }
  if (!existsSync(localKeysFile(dataDir))) {
    print(`No keys in ${dataDir}: start the stack once (npm start) to create them.`);
    return 1;
  }
  const keys = readLocalKeys(dataDir);
  const file = localKeysFile(dataDir);
  const running = readRunningStack(dataDir);
  const restart = running ? `Restart the stack (pid ${running.pid})` : 'Start the stack';

  switch (command) {
    case 'status': {
      print(`Keys: ${file}`);
      print(`Data keys: ${Object.keys(keys.keyring.keys).join(', ')}; sealing with ${keys.keyring.current}`);
      print(`Root key: ${keys.rootKeys.previous ? 'hand-over open (the previous key still works)' : 'one key'}`);
      print(running ? `Stack running (pid ${running.pid}), sealing with ${running.dataKeyId}` : 'Stack not running');
      return 0;
    }
    case 'rotate-data-key': {
      const keyring = withNewCurrentKey(keys.keyring);
      writeLocalKeys(dataDir, { ...keys, keyring });
      print(`Data key ${keyring.current} added to ${file}; it seals from the next start (keys: ${Object.keys(keyring.keys).join(', ')}).`);
      print(`${restart}, then run \`npm run keys -- reseal\` to move the values sealed under older keys onto it.`);
      return 0;
    }
    case 'reseal':
      return reseal(dataDir, keys.keyring.current, running, flags.includes('--dry-run'), print);
    case 'rotate-root-key': {
      const rootKeys = rotateRootKeys(keys.rootKeys, new Date());
      writeLocalKeys(dataDir, { ...keys, rootKeys });
      print(`New root key: ${rootKeys.current}`);
      print(`${restart} to use it. Until \`npm run keys -- finish-root-key\` (and a restart), the previous root key works too.`);
      return 0;
    }
    case 'finish-root-key': {
      if (!keys.rootKeys.previous) {
        print('No root-key hand-over is open.');
        return 0;
      }
      writeLocalKeys(dataDir, { ...keys, rootKeys: finishRootKeyHandOver(keys.rootKeys) });
      print(`Hand-over finished in ${file}. ${restart}: from then on only the current root key works.`);
      return 0;
    }
    default:
      print(`Unknown command ${command}.\n\n${usage}`);
      return 2;
  }
}

async function reseal(
  dataDir: string,
  currentKeyId: string,
  running: ReturnType<typeof readRunningStack>,
  dryRun: boolean,
  print: Print,
): Promise<number> {
  if (running && running.dataKeyId !== currentKeyId) {
    // Values re-sealed under a key the running stack has not loaded would not open in it.
    print(
      `The running stack (pid ${running.pid}) seals with ${running.dataKeyId}, and ${localKeysFile(dataDir)} with ${currentKeyId}: ` +
        'restart the stack first, then run the re-seal.',
    );
    return 1;
  }
  const box = new SecretBox(readLocalKeys(dataDir).keyring);
  let endpoint = running?.dynamodbEndpoint;
  let stopDynamo: (() => Promise<unknown>) | undefined;
  if (!endpoint) {
    print('The stack is not running: starting DynamoDB Local on the data dir for the re-seal (do not start the stack meanwhile).');
    const dynamo = await startDynamoDbLocal({ port: await freePort(), dataDir: path.join(dataDir, 'dynamodb') });
    endpoint = dynamo.endpoint;
    stopDynamo = () => dynamo.child.stop();
  }
  const dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  try {
    try {
      await dynamodb.send(new DescribeTableCommand({ TableName: ledgerTable.localName }));
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
      print('The ledger table does not exist yet: nothing is sealed.');
      return 0;
    }
    const table: LedgerTable = { client: DynamoDBDocumentClient.from(dynamodb), name: ledgerTable.localName, retentionDays: 30 };
    print(`${dryRun ? 'Counting' : 'Re-sealing'} under data key ${box.currentKeyId}…`);
    const report = await resealLedger(table, box, {
      dryRun,
      progress: (r) => {
        if (r.tenants % 100 === 0) print(`  ${summary(r, dryRun)}`);
      },
    });
    print(summary(report, dryRun));
    for (const item of report.unreadable) print(`  ! cannot open ${item}`);
    return report.unreadable.length > 0 ? 1 : 0;
  } finally {
    dynamodb.destroy();
    await stopDynamo?.();
  }
}

function summary(report: ResealReport, dryRun: boolean): string {
  const byKey = Object.entries(report.valuesByKey)
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([id, count]) => `${id}: ${count}`)
    .join(', ');
  return (
    `${report.tenants} tenants, ${report.scanned} items with sealed values (${byKey || 'none'}): ` +
    `${report.resealed} ${dryRun ? 'to re-seal' : 're-sealed'}, ${report.alreadyCurrent} already under ${report.currentKeyId}` +
    (report.retried > 0 ? `, ${report.retried} redone after a concurrent write` : '') +
    (report.unreadable.length > 0 ? `, ${report.unreadable.length} unreadable` : '')
  );
}

const dataDirSetting = process.env.SLUICE_DATA_DIR ?? './.sluice';
const print: Print = (line) => process.stdout.write(`${line}\n`);
const run =
  dataDirSetting === IN_MEMORY
    ? async () => {
        print('An in-memory stack (SLUICE_DATA_DIR=:memory:) keeps no keys to rotate.');
        return 2;
      }
    : () => runKeysCommand(path.resolve(dataDirSetting), process.argv.slice(2), print);
run()
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`npm run keys: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
