// Runs before `npm publish` (prepublishOnly): refuses while the package metadata still holds the
// placeholder owner, so the published page never links to a repository that is not this one.
// `node scripts/check-publish.mjs [package.json]`.
import { readFileSync } from 'node:fs';

const PLACEHOLDER = 'OWNER';
const file = process.argv[2] ?? 'package.json';
const pkg = JSON.parse(readFileSync(file, 'utf8'));
const fields = { repository: pkg.repository?.url ?? pkg.repository, homepage: pkg.homepage, bugs: pkg.bugs?.url ?? pkg.bugs };
const unfilled = Object.entries(fields)
  .filter(([, value]) => typeof value !== 'string' || value.includes(PLACEHOLDER))
  .map(([name]) => name);
if (unfilled.length > 0) {
  console.error(`${file}: fill in ${unfilled.join(', ')} before publishing (replace ${PLACEHOLDER} with the repository's owner).`);
  process.exit(1);
}
