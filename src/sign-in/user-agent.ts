// A coarse name for the kind of browser that asked for a link ("Firefox on Windows"), shown on the
// approving device's confirm page. Drawn from a fixed vocabulary, so nothing of the header itself is
// kept or shown, and too coarse to single anyone out.

const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\b(?:OPR|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(?:Firefox|FxiOS)\//, 'Firefox'],
  [/(?:\b|Headless)(?:Chrome|Chromium|CriOS)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

const SYSTEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\biPhone\b/, 'iPhone'],
  [/\biPad\b/, 'iPad'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

/** "Chrome on Android", "Safari on iPhone", "a browser on Linux", or "an unknown browser". */
export function browserFamily(userAgent: string | undefined): string {
  const header = (userAgent ?? '').slice(0, 512);
  const browser = BROWSERS.find(([shape]) => shape.test(header))?.[1];
  const system = SYSTEMS.find(([shape]) => shape.test(header))?.[1];
  if (browser === undefined && system === undefined) return 'an unknown browser';
  return `${browser ?? 'a browser'}${system === undefined ? '' : ` on ${system}`}`;
}
