// Prints what the built UI costs a school's link, gzip -9 as a server or
// proxy would send it: every file together, the shell every page loads
// first (index.html and the scripts and styles it names), hls.js (only with
// a player page) and what opening each page adds to the shell. Run after `vite
// build` by `npm run build`; README's figures come from this.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const path = join(dir, f);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}
const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const sum = (paths) => paths.reduce((total, p) => total + gz(p), 0);

const all = files(dist);
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const linked = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => join(dist, m[1]));
const shell = [join(dist, 'index.html'), ...linked];
const hls = all.filter((p) => /^hls[.-]/.test(basename(p)));
// What opening a page adds to the shell: its chunk and every file Vite
// preloads with it (the entry's __vite__mapDeps table), less the shell's.
const entry = readFileSync(linked.find((p) => p.endsWith('.js')), 'utf8');
const table = JSON.parse((entry.match(/m\.f=(\[[^\]]*\])/) || [null, '[]'])[1]);
const inShell = new Set(shell);
// hls.js is imported on demand by the player's chunk, when it starts.
const players = all.filter((p) => p.endsWith('.js') && hls.some((h) => readFileSync(p, 'utf8').includes(basename(h))));
const isHls = (p) => hls.includes(p);
const pages = new Map();
for (const m of entry.matchAll(/import\(`\.\/(\w+)Page-[\w-]+\.js`\),__vite__mapDeps\(\[([\d,]*)\]\)/g)) {
  const needs = m[2].split(',').filter(Boolean).map((i) => join(dist, table[Number(i)])).filter((p) => !inShell.has(p));
  pages.set(m[1], { size: sum(needs.filter((p) => !isHls(p))), player: needs.some((p) => players.includes(p)) });
}
const pageSizes = [...pages.entries()].sort((a, b) => a[1].size - b[1].size);
const largest = all.map((p) => [relative(dist, p), gz(p)]).sort((a, b) => b[1] - a[1]).slice(0, 5);

console.log(`web/dist, gzip -9:`);
console.log(`  all files     ${kib(sum(all))} (${all.length} files)`);
console.log(`  first load    ${kib(sum(shell))}: index.html and the ${linked.length} files it names`);
console.log(`  hls.js        ${kib(sum(hls))}, loaded only with a player page`);
if (pageSizes.length) {
  const [least, most] = [pageSizes[0], pageSizes[pageSizes.length - 1]];
  console.log(`  each page     +${kib(least[1].size)} (${least[0]}) to +${kib(most[1].size)} (${most[0]}) on top of the first load,`);
  console.log(`                less what an earlier page fetched; hls.js too for ${pageSizes.filter(([, p]) => p.player).map(([n]) => n).join(', ')}`);
  console.log(`                ${pageSizes.map(([name, p]) => `${name} ${(p.size / 1024).toFixed(1)}`).join(', ')}`);
}
console.log(`  largest       ${largest.map(([name, size]) => `${name} ${kib(size)}`).join(', ')}`);
