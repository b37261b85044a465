// The browser side of the e2e suite: Debian's Chromium driven by playwright-core (which never
// downloads a browser), the example server started in-process on a free port, axe-core checks and
// screenshots under test-output/e2e (not committed).
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { createExampleApp, limitSlowClients, type ExampleApp } from '../example-server/app.js';
import { readSettings } from '../example-server/settings.js';

const require = createRequire(import.meta.url);
// Evaluated over CDP, which the pages' Content-Security-Policy does not apply to (a script tag would be refused).
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const SHOTS = join(process.cwd(), 'test-output', 'e2e');
// Each run starts with an empty folder, so the screenshots are this run's.
rmSync(SHOTS, { recursive: true, force: true });
mkdirSync(SHOTS, { recursive: true });

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };

export interface Demo extends ExampleApp {
  url: string;
  stop: () => Promise<void>;
}

/** The example server as `npm start` runs it, on a free loopback port. */
export async function startDemo(env: NodeJS.ProcessEnv = {}): Promise<Demo> {
  // BASE_URL must name the port, which is only known once listening: listen first, then build.
  const probe = await import('node:net').then(
    (net) =>
      new Promise<number>((resolve) => {
        const server = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = server.address() as AddressInfo;
          server.close(() => resolve(port));
        });
      }),
  );
  const settings = readSettings({ PORT: String(probe), HOST: '127.0.0.1', BASE_URL: `http://127.0.0.1:${probe}`, ...env });
  const example = createExampleApp(settings, { log: () => undefined });
  const server = example.app.listen(probe, '127.0.0.1');
  limitSlowClients(server);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    ...example,
    url: `http://127.0.0.1:${probe}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await example.close();
    },
  };
}

/** WCAG 2.1 A and AA violations on the page as it is now: rule id and the first offending node. */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run: (context: Document, options: object) => Promise<{ violations: Array<{ id: string; nodes: Array<{ html: string }> }> }> };
      }
    ).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations.map((v) => `${v.id}: ${v.nodes[0]?.html ?? ''}`);
  });
  return violations;
}

let shot = 0;
/** A full-page screenshot named after the step; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(SHOTS, `${String(++shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The newest mail's link and code, as the dev outbox has them. */
export async function lastMail(demo: Demo): Promise<{ url: string; code: string; to: string }> {
  for (let i = 0; i < 50 && demo.outbox.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const mail = demo.outbox.at(-1);
  if (!mail) throw new Error('no mail was sent');
  return mail;
}

/** Cookies and all: whether this browser context is signed in. */
export async function signedIn(context: BrowserContext, demo: Demo): Promise<boolean> {
  const response = await context.request.get(`${demo.url}/v1/me`);
  return response.status() === 200;
}
