import { getOpenApi } from './lib/api/meta-routes.ts';
import { openApiDocument } from './lib/api/openapi.ts';
import { httpHandler, noService } from './lib/edge/http.ts';

let document: Record<string, unknown> | undefined;

export const handler = httpHandler(getOpenApi, noService, async () => {
  document ??= openApiDocument();
  return { status: 200, body: document, headers: { 'cache-control': 'public, max-age=300' } };
});
