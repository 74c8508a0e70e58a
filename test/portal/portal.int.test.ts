/**
 * Browser tests of the portal (real local stack, Debian's Chromium driven by playwright-core):
 * signing in with a session link, endpoints and deliveries, retry, redrive, trigger URLs, what a
 * `read` session sees, and the page at 375 px. Screenshots go to .test-artifacts/portal/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { type Receiver, receiverPool, respondWith } from '../support/receiver.ts';
import { call, createEndpoint, createKey, createTenant, eventually, postMessage, putEventType, type TestTenant } from '../support/stack.ts';

const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(process.cwd(), '.test-artifacts', 'portal');
/** Longer than the API's answers take on a loaded CI machine; the portal shows each within a second here. */
const UI_TIMEOUT_MS = 20_000;

/**
 * What the functions given to `page.evaluate` use in the page, typed here without the DOM library,
 * which the rest of the project (Node code) must not see. Written inline as `(globalThis as Web)`:
 * the cast is erased, and the function runs in the page as written.
 */
interface Web {
  document: {
    documentElement: { scrollWidth: number; clientWidth: number };
    activeElement: { textContent: string | null } | null;
    querySelectorAll(selector: string): ArrayLike<{ closest(selector: string): unknown; getAttribute(name: string): string | null }>;
  };
  location: { hash: string };
  localStorage: { length: number };
  sessionStorage: { length: number };
  navigator: { clipboard: { readText(): Promise<string> } };
}

let browser: Browser;
const receivers = receiverPool();

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium; .ci/run does) or set SLUICE_CHROMIUM`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root in a container Chromium needs --no-sandbox; the rest keep it off this machine's closed network.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await receivers.closeAll();
});

async function openSession(tenant: TestTenant, capability: 'read' | 'manage'): Promise<{ url: string; token: string }> {
  const created = await call<{ url: string; token: string }>('POST', '/v1/portal-sessions', { key: tenant.key, body: { capability } });
  expect(created.status).toBe(201);
  return created.body;
}

async function signIn(
  tenant: TestTenant,
  capability: 'read' | 'manage',
  {
    viewport = { width: 1280, height: 900 },
    // Only the accessibility check turns the page's CSP off, to inject axe: the page allows its own script alone.
    bypassCSP = false,
  }: { viewport?: { width: number; height: number }; bypassCSP?: boolean } = {},
) {
  const context: BrowserContext = await browser.newContext({ viewport, bypassCSP });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  const session = await openSession(tenant, capability);
  await page.goto(session.url);
  await page.getByRole('heading', { name: 'Endpoints' }).waitFor();
  return { page, context, token: session.token };
}

const AXE = require.resolve('axe-core/axe.min.js');

/** axe-core's WCAG 2.1 A and AA checks (labels, names, contrast, landmarks, ARIA) on the page as it is now. */
async function accessibilityViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    type Violation = { id: string; impact: string; nodes: { target: string[] }[] };
    const { axe } = globalThis as unknown as { axe: { run(options: unknown): Promise<{ violations: Violation[] }> } };
    const { violations } = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Clicks Refresh until the text appears: the portal shows what the API says when asked. */
async function refreshUntil(page: Page, text: string | RegExp, scope = page.locator('main')) {
  await eventually(
    async () => {
      if (await scope.getByText(text).first().isVisible()) return true;
      await scope.getByRole('button', { name: 'Refresh' }).first().click();
      await page.waitForTimeout(300);
      return undefined;
    },
    `"${text}" on the page`,
    UI_TIMEOUT_MS,
    0,
  );
}

describe('the portal', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await receivers.start(respondWith(200, 'thanks'));
  });

  test('signs in with a session link, drops the token from the address bar, and stores nothing', async () => {
    const tenant = await createTenant('Portal Sign-in Co');
    const { page, context } = await signIn(tenant, 'manage');
    expect(page.url()).not.toContain('pst_');
    expect(page.url()).toMatch(/\/portal#\/endpoints$/);
    await expect(page.locator('header').textContent()).resolves.toContain('Portal Sign-in Co');
    const stored = await page.evaluate(() => ({
      local: (globalThis as unknown as Web).localStorage.length,
      session: (globalThis as unknown as Web).sessionStorage.length,
    }));
    expect(stored).toEqual({ local: 0, session: 0 });
    // Every form field has a name a screen reader reads out.
    const unlabelled = await page.evaluate(
      () =>
        Array.from((globalThis as unknown as Web).document.querySelectorAll('input, select')).filter(
          (field) => !field.closest('label') && !field.getAttribute('aria-label'),
        ).length,
    );
    expect(unlabelled).toBe(0);
    // The first Tab reaches the skip link.
    await page.keyboard.press('Tab');
    await expect(page.evaluate(() => (globalThis as unknown as Web).document.activeElement?.textContent)).resolves.toBe('Skip to content');

    // A reload forgets the token (memory only): the page asks for the link again.
    await page.reload();
    await page.getByRole('heading', { name: 'Sluice portal' }).waitFor();
    await context.close();

    const forged = await browser.newPage();
    await forged.goto(`${new URL(page.url()).origin}/portal#token=pst_v2.k1.AAAA.BBBB.CCCC`);
    await forged
      .getByRole('alert')
      .getByText(/portal session token is not valid/)
      .waitFor({ timeout: UI_TIMEOUT_MS });
    await forged.close();
  });

  test('creates an endpoint, and shows a posted event’s delivery with its status code and attempts', async () => {
    const tenant = await createTenant('Portal Deliveries Co');
    await putEventType(tenant, 'lock.unlocked', { type: 'object', properties: { lockId: { type: 'string' } }, required: ['lockId'] });
    const { page, context } = await signIn(tenant, 'manage');

    await page.getByLabel('URL').fill(`${receiver.url}/portal-hook`);
    await page.getByLabel(/Event types/).fill('lock.unlocked');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByRole('link', { name: /^Open ep_/ }).click();
    await page.getByRole('heading', { name: `${receiver.url}/portal-hook` }).waitFor();
    const endpointId = (await page.locator('.facts dd').first().textContent())?.trim();
    expect(endpointId).toMatch(/^ep_/);

    const message = await postMessage(tenant, 'lock.unlocked', { lockId: 'front-door' });
    await refreshUntil(page, 'HTTP 200');
    await page.getByRole('link', { name: /^dlv_/ }).first().click();
    const attempts = page.getByRole('region', { name: 'Attempts', exact: true });
    await attempts.getByRole('cell', { name: '200', exact: true }).waitFor();
    await expect(attempts.getByText('thanks').isVisible()).resolves.toBe(true);
    await shot(page, 'delivery');

    await page.getByRole('link', { name: `← Message ${message.id}` }).click();
    await page.getByText('"front-door"').waitFor();
    await page.getByRole('link', { name: 'Event types' }).click();
    await page.getByRole('heading', { name: 'Example payload' }).first().waitFor();
    await expect(page.locator('pre').nth(1).textContent()).resolves.toContain('"lockId": "string"');
    // Sluice's operational events are listed after the tenant's own, marked as such.
    await page.getByRole('heading', { name: /^endpoint\.disabled operational$/ }).waitFor();

    await page.getByRole('link', { name: 'Endpoints' }).click();
    await page.getByRole('link', { name: `${receiver.url}/portal-hook` }).click();
    await page.getByRole('img', { name: /Last 24 hours: 1 delivered, 0 failed/ }).waitFor();
    await shot(page, 'endpoint');
    await context.close();
  });

  test('retries a failed delivery, and redrives a dead letter', async () => {
    const tenant = await createTenant('Portal Recovery Co');
    await putEventType(tenant, 'door.jammed');
    const flaky = await receivers.start(respondWith(503, 'down for maintenance'));
    const failing = await createEndpoint(tenant, { url: flaky.url, eventTypes: ['door.jammed'], retryPolicy: { delaysSeconds: [3600] } });
    const dying = await createEndpoint(tenant, {
      url: `${flaky.url}/dead`,
      eventTypes: ['door.jammed'],
      retryPolicy: { delaysSeconds: [1] },
    });
    await postMessage(tenant, 'door.jammed', { door: 'back' });
    const deliveries = async (endpointId: string) =>
      (await call<{ data: { id: string; status: string }[] }>('GET', `/v1/endpoints/${endpointId}/deliveries`, { key: tenant.key })).body
        .data;
    const [failed] = await eventually(async () => {
      const found = await deliveries(failing.id);
      return found[0]?.status === 'failed' ? found : undefined;
    }, 'a failed delivery');
    await eventually(async () => ((await deliveries(dying.id))[0]?.status === 'dead' ? true : undefined), 'a dead delivery');

    flaky.responder = respondWith(200, 'back again');
    const { page, context } = await signIn(tenant, 'manage');
    await page.goto(`${new URL(page.url()).origin}/portal#/deliveries/${failed?.id}`);
    await page.getByRole('cell', { name: '503', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.getByText('Retry queued').waitFor();
    await refreshUntil(page, 'back again');
    await page.getByRole('cell', { name: '200', exact: true }).waitFor();

    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.getByRole('link', { name: /^dlv_/ }).first().waitFor();
    await shot(page, 'dead-letters');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Redrive all' }).click();
    await page
      .getByText('Redriven: 1')
      .waitFor()
      .catch(async (error: unknown) => {
        await shot(page, 'redrive-failure');
        throw error;
      });
    await eventually(
      async () => ((await deliveries(dying.id))[0]?.status === 'succeeded' ? true : undefined),
      'the redriven delivery to succeed',
    );
    await refreshUntil(page, 'No dead letters.');
    await context.close();
  });

  test('shows an inbound action’s trigger URL and copies it', async () => {
    const tenant = await createTenant('Portal Actions Co');
    await createKey(tenant, ['inbound']);
    const action = await call<{ id: string }>('POST', '/v1/actions', {
      key: tenant.key,
      body: { name: 'Restart all', eventId: 'restart-all', action: 'restart_device', target: { type: 'all' } },
    });
    expect(action.status).toBe(201);
    const { page, context } = await signIn(tenant, 'manage');
    await page.getByRole('link', { name: 'Inbound actions' }).click();
    await page.getByText('Restart all').waitFor();
    await page.getByRole('button', { name: 'Show trigger URL' }).click();
    const shown = await page.getByLabel('Trigger URL').inputValue();
    expect(shown).toMatch(/\/v1\/hooks\?/);
    await page.getByRole('button', { name: 'Copy URL' }).click();
    await page.getByText('Copied').waitFor();
    await expect(page.evaluate(() => (globalThis as unknown as Web).navigator.clipboard.readText())).resolves.toBe(shown);
    await context.close();
  });

  test('a read session sees no button that changes anything, and the API refuses its writes anyway', async () => {
    const tenant = await createTenant('Portal Read-only Co');
    await putEventType(tenant, 'lock.unlocked');
    const endpoint = await createEndpoint(tenant, { url: receiver.url, eventTypes: ['lock.unlocked'] });
    await postMessage(tenant, 'lock.unlocked', { lockId: 'x' });
    const { page, context, token } = await signIn(tenant, 'read');
    await expect(page.locator('header').textContent()).resolves.toContain('read only');

    const writeButtons =
      /Create endpoint|Disable|Enable|Rotate secret|Reveal secret|Send test event|Retry|Redrive|Save|Delete|Show trigger URL/;
    const visibleWriteButtons = () => page.getByRole('button', { name: writeButtons }).count();
    await page.getByRole('link', { name: receiver.url }).click();
    await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
    await refreshUntil(page, 'HTTP 200');
    await expect(visibleWriteButtons()).resolves.toBe(0);
    await page.getByRole('link', { name: /^dlv_/ }).first().click();
    await page.getByRole('region', { name: 'Attempts', exact: true }).waitFor();
    await expect(visibleWriteButtons()).resolves.toBe(0);
    for (const name of ['Dead letters', 'Inbound actions', 'Messages', 'Event types']) {
      await page.getByRole('link', { name }).click();
      await page.getByRole('heading', { name: name === 'Inbound actions' ? 'Inbound actions' : name }).waitFor();
      await expect(visibleWriteButtons()).resolves.toBe(0);
    }
    await expect(page.getByRole('link', { name: 'API keys' }).count()).resolves.toBe(0);
    await shot(page, 'read-only');

    // The same writes, made from the page with the session's token, are refused by the API.
    const statuses = await page.evaluate(
      async ({ token, endpointId }) => {
        const send = (method: string, path: string, body?: unknown) =>
          fetch(path, {
            method,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            ...(body !== undefined && { body: JSON.stringify(body) }),
          }).then((response) => response.status);
        return [
          await send('POST', '/v1/endpoints', { url: 'http://127.0.0.1:9/x' }),
          await send('PATCH', `/v1/endpoints/${endpointId}`, { disabled: true }),
          await send('GET', `/v1/endpoints/${endpointId}/secret`),
          await send('POST', '/v1/dead-letters/redrive', {}),
        ];
      },
      { token, endpointId: endpoint.id },
    );
    expect(statuses).toEqual([403, 403, 403, 403]);
    await context.close();
  });

  test('every page passes axe-core’s WCAG 2.1 AA checks, wide and at 375 px', async () => {
    const tenant = await createTenant('Portal Access Co');
    await putEventType(tenant, 'lock.unlocked', { type: 'object', properties: { lockId: { type: 'string' } } });
    const dead = await receivers.start(respondWith(500, 'no'));
    await createEndpoint(tenant, { url: receiver.url, eventTypes: ['lock.unlocked'] });
    const dying = await createEndpoint(tenant, { url: dead.url, eventTypes: ['lock.unlocked'], retryPolicy: { delaysSeconds: [1] } });
    const message = await postMessage(tenant, 'lock.unlocked', { lockId: 'a' });
    await call('POST', '/v1/actions', {
      key: tenant.key,
      body: { name: 'Restart', eventId: 'restart', action: 'restart_device', target: { type: 'all' } },
    });
    const delivery = await eventually(async () => {
      const page = await call<{ data: { id: string; status: string }[] }>('GET', `/v1/endpoints/${dying.id}/deliveries`, {
        key: tenant.key,
      });
      return page.body.data[0]?.status === 'dead' ? page.body.data[0] : undefined;
    }, 'a dead delivery');

    for (const viewport of [
      { width: 1280, height: 900 },
      { width: 375, height: 812 },
    ]) {
      const { page, context } = await signIn(tenant, 'manage', { viewport, bypassCSP: true });
      const pages: [string, string][] = [
        ['#/endpoints', 'Endpoints'],
        [`#/endpoints/${dying.id}`, 'Signing secret'],
        ['#/messages', 'Messages'],
        [`#/messages/${message.id}`, 'Payload'],
        [`#/deliveries/${delivery.id}`, 'Attempts'],
        ['#/dead-letters', 'Dead letters'],
        ['#/event-types', 'Example payload'],
        ['#/actions', 'Inbound actions'],
        ['#/api-keys', 'API keys'],
      ];
      for (const [fragment, heading] of pages) {
        // In the same document, as the portal's own links go: a new one would have no token.
        await page.evaluate((hash) => {
          (globalThis as unknown as Web).location.hash = hash;
        }, fragment);
        await page.getByRole('heading', { name: heading }).first().waitFor();
        await eventually(async () => ((await page.getByText(/^Loading /).count()) === 0 ? true : undefined), `${fragment} to load`);
        expect({ page: fragment, width: viewport.width, violations: await accessibilityViolations(page) }).toEqual({
          page: fragment,
          width: viewport.width,
          violations: [],
        });
      }
      await context.close();
    }
  });

  test('fits a 375 px wide screen with no sideways scrolling', async () => {
    const tenant = await createTenant('Portal Phone Co');
    await createEndpoint(tenant, { url: `${receiver.url}/a-rather-long-path/that/goes/on/and/on/for/a/while` });
    const { page, context } = await signIn(tenant, 'manage', { viewport: { width: 375, height: 812 } });
    await page.getByRole('link', { name: /a-rather-long-path/ }).click();
    await page.getByRole('heading', { name: 'Signing secret' }).waitFor();
    const overflow = await page.evaluate(() => {
      const { documentElement } = (globalThis as unknown as Web).document;
      return documentElement.scrollWidth - documentElement.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, 'phone');
    await context.close();
  });
});
