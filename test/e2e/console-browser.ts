import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * The browser side of the console tests: Debian's Chromium driven by playwright-core, axe-core
 * checked on every page and state a test visits, screenshots for the README.
 */
export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function buildConsole(): void {
  execFileSync(path.resolve('node_modules/.bin/vite'), ['build', '--config', 'src/console/vite.config.mts'], { stdio: 'pipe' });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** axe-core's WCAG 2.1 A/AA rules on the page as it is now; fails naming each violation and node. */
export async function expectAccessible(page: Page, state: string): Promise<void> {
  // Page-side code is passed as text: the tests' tsconfig has no DOM types, and should not.
  if (!(await page.evaluate<boolean>("'axe' in window"))) await page.addScriptTag({ content: axe.source });
  const violations = await page.evaluate<string[]>(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
    .then((result) => result.violations.map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' — ' + v.nodes.map((n) => n.target.join(' ')).join('; ')))`);
  if (violations.length) throw new Error(`axe-core found violations in "${state}":\n${violations.join('\n')}`);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync('docs/img', { recursive: true });
  await page.screenshot({ path: `docs/img/${name}.png`, fullPage: true });
}

/** Keyboard only: Tab until the focused element is named `name` (its label or text). */
export async function tabTo(page: Page, name: string | RegExp, maxTabs = 120): Promise<void> {
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate<string>(`(() => {
      const el = document.activeElement;
      if (!el) return '';
      return ((el.labels && el.labels[0] && el.labels[0].textContent) || el.getAttribute('aria-label') || el.textContent || '').trim();
    })()`);
    if (typeof name === 'string' ? focused === name : name.test(focused)) return;
  }
  throw new Error(`no element named ${String(name)} within ${maxTabs} tabs`);
}
