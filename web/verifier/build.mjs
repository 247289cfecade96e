// Build server/web/static/verify.html: the page, its style and the bundled verifier
// inlined into one file, with a CSP that allows exactly that inline script and style
// (by hash) and WebAssembly compilation (hash-wasm), and nothing from anywhere else.
//
//   node build.mjs           write the file
//   node build.mjs --check   exit 1 if the committed file is not what the sources build

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.resolve(HERE, "../../server/web/static/verify.html");

function sha256(text) {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

async function build() {
  const result = await esbuild.build({
    entryPoints: [path.join(HERE, "src/page.js")],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: ["es2022"],
    charset: "utf8",
    legalComments: "inline",
    minify: false,
    write: false,
  });
  // An inline script ends at the first "</script": none may appear inside it.
  const script = result.outputFiles[0].text.replaceAll("</script", "<\\/script");
  const style = readFileSync(path.join(HERE, "src/page.css"), "utf8");
  const lock = JSON.parse(readFileSync(path.join(HERE, "package-lock.json"), "utf8"));
  const packages = ["fflate", "hash-wasm"].map((name) => `${name} ${lock.packages[`node_modules/${name}`].version}`).join(" and ");
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)} 'wasm-unsafe-eval'`,
    `style-src ${sha256(style)}`,
    "img-src 'none'",
    "connect-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  const template = readFileSync(path.join(HERE, "src/page.html"), "utf8");
  const fill = { CSP: csp, STYLE: style, SCRIPT: script, PACKAGES: packages };
  return template.replace(/\{\{(\w+)\}\}/g, (_, key) => fill[key]);
}

const html = await build();
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(OUT, "utf8");
  } catch {
    current = "";
  }
  if (current !== html) {
    process.stderr.write(`${path.relative(process.cwd(), OUT)} is not what web/verifier builds: run 'npm run build' and commit it\n`);
    process.exit(1);
  }
  process.stdout.write("verify.html is up to date\n");
} else {
  writeFileSync(OUT, html);
  process.stdout.write(`wrote ${OUT} (${html.length} bytes)\n`);
}
