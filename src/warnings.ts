// Warnings the library gives once per process, each with a stable code documented in the README.
const warned = new Set<string>();

export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { code });
}
