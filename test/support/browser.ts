// The browser tests' Chromium: Debian's, found by the global setup (inject('chromium')), launched headless
// with what a sandboxed CI machine needs.
import { chromium, type Browser } from 'playwright-core';

export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}
