// Builds web/dist: the UI is plain HTML/CSS/ES modules, so "building" is
// copying web/src/*, the shared message catalogue web/i18n/*.json (into
// dist/i18n/) and hls.js's prebuilt player (into dist/vendor/). No bundler,
// no dependencies beyond node itself.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const web = dirname(fileURLToPath(import.meta.url));
const src = join(web, 'src');
const i18n = join(web, 'i18n');
const dist = join(web, 'dist');

// Resolve hls.js through node's own resolution so a hoisted install works too.
const require = createRequire(import.meta.url);
let hlsDir;
try {
  hlsDir = dirname(require.resolve('hls.js/package.json'));
} catch {
  console.error('build: hls.js is not installed; run `npm ci` (or `npm install`) in web/ first');
  process.exit(1);
}
const hlsMin = join(hlsDir, 'dist', 'hls.min.js');
if (!existsSync(hlsMin)) {
  console.error(`build: ${hlsMin} is missing`);
  process.exit(1);
}

// The catalogues must stay in step: the server embeds them too.
const catalogues = readdirSync(i18n).filter((f) => f.endsWith('.json'));
const keySets = catalogues.map((f) => {
  const keys = Object.keys(JSON.parse(readFileSync(join(i18n, f), 'utf8')));
  return [f, new Set(keys)];
});
for (const [f, keys] of keySets) {
  for (const [g, other] of keySets) {
    const missing = [...other].filter((k) => !keys.has(k));
    if (missing.length) {
      console.error(`build: ${f} lacks keys that ${g} has: ${missing.join(', ')}`);
      process.exit(1);
    }
  }
}

// Empty dist/ in place rather than removing it: a running server may hold it as web_dir.
mkdirSync(dist, { recursive: true });
for (const entry of readdirSync(dist)) rmSync(join(dist, entry), { recursive: true, force: true });

cpSync(src, dist, { recursive: true });
mkdirSync(join(dist, 'i18n'), { recursive: true });
for (const f of catalogues) cpSync(join(i18n, f), join(dist, 'i18n', f));
mkdirSync(join(dist, 'vendor'), { recursive: true });
cpSync(hlsMin, join(dist, 'vendor', 'hls.min.js'));

const version = JSON.parse(readFileSync(join(hlsDir, 'package.json'), 'utf8')).version;
console.log(`build: web/dist ready (${readdirSync(src).length} source files, ${catalogues.length} catalogues, hls.js ${version})`);
