// Build the web workspace's static files into server/web/static/ (committed), and axe-core
// into tests/web/assets/ (the browser tests inject it). Nothing is bundled or minified
// here: vendored files are copied exactly as their npm packages ship them, next to their
// licence texts, so each can be compared with its published version.
//
//   npm ci && node build.mjs          write the files
//   node build.mjs --check            exit 1 if the committed files differ from a build
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const staticDir = join(root, 'server', 'web', 'static');
const testAssets = join(root, 'tests', 'web', 'assets');
const modules = join(here, 'node_modules');
const check = process.argv.includes('--check');

const pkg = (name) => JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8'));
const licenceOf = (name) => {
  const dir = join(modules, name);
  const file = readdirSync(dir).find((f) => /^(licen[sc]e|copying)(\.(md|txt))?$/i.test(f));
  if (!file) throw new Error(`no licence file in ${name}`);
  return readFileSync(join(dir, file));
};

// Each vendored package: what is served from it, and (for a prebuilt bundle) the packages
// its authors bundled into that file, whose licences travel with it.
const vendored = [
  { package: 'htmx.org', files: { 'vendor/htmx.min.js': 'dist/htmx.min.js' } },
  {
    package: 'tus-js-client',
    files: { 'vendor/tus.min.js': 'dist/tus.min.js', 'vendor/tus.min.js.map': 'dist/tus.min.js.map' },
    bundles: ['js-base64', 'url-parse', 'querystringify', 'requires-port', 'buffer', 'base64-js', 'ieee754'],
  },
  { package: 'hash-wasm', files: { 'vendor/sha256.umd.min.js': 'dist/sha256.umd.min.js' } },
];
const own = {
  'app.js': 'src/app.js',
  'upload.js': 'src/upload.js',
  'app.css': 'src/app.css',
  'favicon.svg': 'src/favicon.svg',
};

const outputs = new Map(); // absolute path -> Buffer
const put = (path, data) => outputs.set(path, Buffer.isBuffer(data) ? data : Buffer.from(data));
const manifestEntries = [];

for (const item of vendored) {
  const meta = pkg(item.package);
  for (const [target, source] of Object.entries(item.files)) {
    put(join(staticDir, target), readFileSync(join(modules, item.package, source)));
  }
  const licenceFile = `licenses/${item.package}.txt`;
  let text = `${item.package} ${meta.version} (${meta.license})\n\n${licenceOf(item.package)}`;
  const bundles = [];
  for (const name of item.bundles || []) {
    const inner = pkg(name);
    bundles.push(`${name} (${inner.license})`);
    text += `\n\n---- bundled into ${item.package}: ${name} (${inner.license}) ----\n\n${licenceOf(name)}`;
  }
  put(join(staticDir, licenceFile), text);
  manifestEntries.push({
    package: item.package,
    version: meta.version,
    license: meta.license,
    files: Object.keys(item.files),
    license_file: licenceFile,
    bundles,
  });
}
for (const [target, source] of Object.entries(own)) {
  put(join(staticDir, target), readFileSync(join(here, source)));
}

const axe = pkg('axe-core');
put(join(testAssets, 'axe.min.js'), readFileSync(join(modules, 'axe-core', 'axe.min.js')));
put(join(testAssets, 'axe-core.LICENSE.txt'),
  `axe-core ${axe.version} (${axe.license})\n\n${licenceOf('axe-core')}`);

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const files = {};
for (const [path, data] of [...outputs].sort()) {
  if (path.startsWith(staticDir)) files[relative(staticDir, path)] = sha256(data);
}
const manifest = { files, vendored: manifestEntries };
put(join(staticDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

let stale = 0;
for (const [path, data] of outputs) {
  const same = existsSync(path) && readFileSync(path).equals(data);
  if (check) {
    if (!same) { console.error(`differs from a build: ${relative(root, path)}`); stale += 1; }
  } else if (!same) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data);
    console.log(`wrote ${relative(root, path)}`);
  }
}
if (check) {
  console.log(stale ? `${stale} file(s) differ: run node build.mjs` : 'static files match the build');
  process.exit(stale ? 1 : 0);
}
