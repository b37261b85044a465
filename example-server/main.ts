// `npm start`: runs the example server with settings from the environment.
import { createExampleApp, limitSlowClients } from './app.js';
import { readSettings, SettingsError } from './settings.js';

let settings;
try {
  settings = readSettings();
} catch (error) {
  if (error instanceof SettingsError) {
    console.error(`Configuration error: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

if (settings.baseUrl.startsWith('https:') && settings.trustProxy === false) {
  console.warn(
    'BASE_URL is https but TRUST_PROXY is unset: behind a TLS-terminating proxy the Secure session cookie is never set. Set TRUST_PROXY to the number of proxies.',
  );
}

const { app, close, ready } = createExampleApp(settings);
try {
  await ready;
} catch (error) {
  console.error(`Could not prepare the database: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
const server = app.listen(settings.port, settings.host, () => {
  console.log(`express-magic-link demo listening on http://${settings.host}:${settings.port}`);
  console.log(`Open ${settings.baseUrl}/ to sign in${settings.production ? '' : `; mails arrive at ${settings.baseUrl}/dev/inbox`}.`);
});
limitSlowClients(server);
server.on('error', (error) => {
  console.error(`Could not start the server: ${error.message}`);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.close(() => void close().then(() => process.exit(0)));
    setTimeout(() => process.exit(0), 3_000).unref();
  });
}
