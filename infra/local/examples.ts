import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

interface Catalog {
  readonly catalog: string;
  readonly eventTypes: readonly { name: string; description: string; schema: Record<string, unknown>; example: Record<string, unknown> }[];
}

export function readCatalogs(): Catalog[] {
  const dir = path.join(process.cwd(), 'infra/local/catalogs');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Catalog);
}

export interface ExampleTenant {
  readonly tenantId: string;
  readonly apiKey: string;
  readonly eventTypes: number;
}

async function call(apiUrl: string, key: string, method: string, route: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/**
 * Loads the example catalogs through the public API (the same path a user takes) into an
 * "Example Co" tenant, once per data dir.
 */
export async function loadExamples(apiUrl: string, rootKey: string, dataDir: string | undefined): Promise<ExampleTenant> {
  const marker = dataDir && path.join(dataDir, 'examples.json');
  const previous = marker && existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as ExampleTenant) : undefined;
  const created = previous ? undefined : await call(apiUrl, rootKey, 'POST', '/v1/tenants', { name: 'Example Co' });
  const tenantId = previous?.tenantId ?? String(created?.id);
  const apiKey = previous?.apiKey ?? String(created?.apiKey);
  let eventTypes = 0;
  for (const catalog of readCatalogs()) {
    for (const type of catalog.eventTypes) {
      await call(apiUrl, apiKey, 'PUT', `/v1/event-types/${type.name}`, { description: type.description, schema: type.schema });
      eventTypes++;
    }
  }
  const result = { tenantId, apiKey, eventTypes };
  if (marker) writeFileSync(marker, `${JSON.stringify(result, null, 2)}\n`, { mode: 0o600 });
  return result;
}
