#!/usr/bin/env node
/*
 * Packs the kintone plugin: validates manifest.json with @kintone/plugin-manifest-validator, then
 * zips and signs it with @kintone/plugin-packer under the deployment's private key.
 *
 *   node pack_plugin.cjs SOURCE_DIR OUT_ZIP PPK_FILE
 *
 * When PPK_FILE does not exist yet the packer generates a key and this script writes it there
 * (mode 0600, never overwriting). Prints one JSON line: {"id", "out", "keyCreated", "warnings"};
 * on an invalid manifest prints {"errors": [...]} and exits 2.
 */
"use strict";

const fs = require("fs");
const path = require("path");
const validateManifest = require("@kintone/plugin-manifest-validator").default;
const { packPluginFromManifest } = require("@kintone/plugin-packer/from-manifest");

function fileChecks(sourceDir) {
  const resolve = (relative) => path.join(sourceDir, relative);
  return {
    fileExists: (relative) => {
      try {
        return fs.statSync(resolve(relative)).isFile();
      } catch (error) {
        return false;
      }
    },
    maxFileSize: (maxBytes, relative) => {
      try {
        return fs.statSync(resolve(relative)).size <= maxBytes;
      } catch (error) {
        return false;
      }
    },
  };
}

async function main() {
  const [sourceDir, outZip, ppkFile] = process.argv.slice(2);
  if (!sourceDir || !outZip || !ppkFile) {
    throw new Error("usage: pack_plugin.cjs SOURCE_DIR OUT_ZIP PPK_FILE");
  }
  const manifestPath = path.join(sourceDir, "manifest.json");
  const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
  const result = validateManifest(manifest, fileChecks(sourceDir));
  if (!result.valid) {
    process.stdout.write(JSON.stringify({ errors: result.errors }) + "\n");
    process.exit(2);
  }
  const privateKey = fs.existsSync(ppkFile) ? fs.readFileSync(ppkFile, "utf8") : undefined;
  const output = await packPluginFromManifest(manifestPath, privateKey);
  let keyCreated = false;
  if (!privateKey) {
    fs.writeFileSync(ppkFile, output.privateKey, { encoding: "utf8", mode: 0o600, flag: "wx" });
    keyCreated = true;
  }
  fs.writeFileSync(outZip, output.plugin);
  const warnings = (result.warnings || []).map((warning) => warning.message);
  process.stdout.write(JSON.stringify({ id: output.id, out: outZip, keyCreated, warnings }) + "\n");
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(1);
});
