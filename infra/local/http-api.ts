import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { isRouteHit, routeMatcher } from '../../functions/lib/api/route-match.ts';
import { corsPolicy } from '../../functions/lib/api/route-table.ts';
import { apiFunctions, noRouteFunction } from '../description.ts';
import { invoke, loadHandler } from './lambda-runtime.ts';

/** API Gateway HTTP APIs refuse bodies over 10 MB before any function runs. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

type ApiEvent = APIGatewayProxyEventV2;
type ApiResult = APIGatewayProxyResultV2;

const TEXT_TYPES = /^(application\/(json|[a-z.+-]*\+json|x-www-form-urlencoded|xml)|text\/)/i;

/** Builds the event API Gateway (payload format 2.0) would hand the function. */
export function toApiGatewayEvent(
  req: http.IncomingMessage,
  body: Buffer,
  route: { routeKey: string; pathParameters?: Record<string, string> },
): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  // API Gateway sets the scheme the client used (https there); this server speaks plain http.
  headers['x-forwarded-proto'] = 'http';
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  const contentType = headers['content-type'] ?? '';
  const isText = body.length === 0 || contentType === '' || TEXT_TYPES.test(contentType);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(headers.cookie && { cookies: headers.cookie.split(/;\s*/) }),
    ...(Object.keys(query).length > 0 && { queryStringParameters: query }),
    ...(route.pathParameters && { pathParameters: route.pathParameters }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 && { body: isText ? body.toString('utf8') : body.toString('base64') }),
    isBase64Encoded: !isText && body.length > 0,
  };
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export interface LocalHttpApi {
  readonly server: http.Server;
  readonly url: string;
  readonly routes: number;
  close(): Promise<void>;
}

export interface HttpApiOptions {
  readonly port: number;
  readonly host: string;
  /** Browser origins allowed by CORS (`SLUICE_CORS_ORIGINS`), as API Gateway's `corsPreflight` would. */
  readonly corsOrigins?: readonly string[];
  /** Extra routes the local stack answers itself (`GET /health`). */
  readonly local: Readonly<Record<string, () => { status: number; body: unknown }>>;
  readonly onRequest?: (line: { method: string; path: string; status: number; ms: number }) => void;
}

/**
 * A local stand-in for API Gateway: routes each request to the same Lambda handler `cdk deploy`
 * wires, with a real payload-format-2.0 event, and writes back the handler's result.
 */
export async function startHttpApi(options: HttpApiOptions): Promise<LocalHttpApi> {
  const routes = await Promise.all(
    apiFunctions.map(async (fn) => ({ fn, method: fn.method, path: fn.path, handler: await loadHandler<ApiEvent, ApiResult>(fn.name) })),
  );
  const match = routeMatcher(routes);
  // API Gateway's `$default` route: what no route takes goes to the same function as in AWS.
  const noRoute = { fn: noRouteFunction, handler: await loadHandler<ApiEvent, ApiResult>(noRouteFunction.name) };

  const server = http.createServer((req, res) => {
    const started = performance.now();
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) {
        if (!refused) send(res, 413, { message: 'Request Entity Too Large' });
        refused = true;
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      void handle(req, res, Buffer.concat(chunks)).then((status) =>
        options.onRequest?.({
          method: req.method ?? '',
          path: (req.url ?? '').split('?')[0] ?? '',
          status,
          ms: Math.round(performance.now() - started),
        }),
      );
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<number> {
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    const origin = req.headers.origin;
    if (origin && options.corsOrigins?.includes(origin.toLowerCase())) {
      res.setHeader('vary', 'origin');
      res.setHeader('access-control-allow-origin', origin);
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
        res.writeHead(204, {
          'access-control-allow-methods': corsPolicy.allowMethods.join(','),
          'access-control-allow-headers': corsPolicy.allowHeaders.join(','),
          'access-control-max-age': String(corsPolicy.maxAgeSeconds),
        });
        res.end();
        return 204;
      }
      res.setHeader('access-control-expose-headers', corsPolicy.exposeHeaders.join(','));
    }
    const local = options.local[`${req.method} ${path}`];
    if (local) {
      const answer = local();
      send(res, answer.status, answer.body);
      return answer.status;
    }
    const found = match(req.method ?? '', path);
    const hit = isRouteHit(found) ? found : undefined;
    const target = hit?.route ?? noRoute;
    const event = toApiGatewayEvent(
      req,
      body,
      hit
        ? {
            routeKey: `${req.method} ${hit.route.path}`,
            ...(Object.keys(hit.pathParameters).length > 0 && { pathParameters: { ...hit.pathParameters } }),
          }
        : { routeKey: '$default' },
    );
    try {
      const result = await invoke(target.fn, target.handler, event);
      return writeResult(res, result);
    } catch (error) {
      console.error(`functions/${target.fn.name}.ts threw:`, error);
      send(res, 500, { message: 'Internal Server Error' });
      return 500;
    }
  }

  // What Node's parser refuses (a request line or headers over 16 KiB, broken framing) gets a
  // JSON answer in API Gateway's own shape, as a deployed stack gives, not a bare status line.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    const [status, reason] = error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    const body = JSON.stringify({ message: reason });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    server,
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    routes: routes.length,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** API Gateway's rules for a 2.0 result: a bare value is a 200 JSON body. */
function writeResult(res: http.ServerResponse, result: APIGatewayProxyResultV2): number {
  if (typeof result !== 'object' || result === null || !('statusCode' in result)) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(typeof result === 'string' ? result : JSON.stringify(result));
    return 200;
  }
  const status = result.statusCode ?? 200;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  res.writeHead(status, headers);
  res.end(result.body === undefined ? undefined : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
  return status;
}
