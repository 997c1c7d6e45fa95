'use strict';
// Run CloudFront Functions (cloudfront-js-2.0) the way CloudFront does, closely enough to test
// them: the code alone in a fresh context without Node's globals (no process, timers, fetch or
// file system; `require` only of the runtime's modules), `handler(event)` called with each
// event, its result (or the promise's value) returned as JSON.
// stdin: {"functions": [{"name", "code", "events": [event, ...]}]}
// stdout: [{"name", "error"?, "results": [{"value"} | {"error"}]}]
const vm = require('vm');
const fs = require('fs');

// "The maximum size of a function's code is 10 KB" (CloudFront quotas).
const MAX_CODE_BYTES = 10 * 1024;
// Modules cloudfront-js-2.0 offers; 'cloudfront' (KeyValueStore) needs a store and is refused.
const MODULES = { crypto: 'crypto', querystring: 'querystring', buffer: 'buffer' };

function runtimeRequire(name) {
  if (!(name in MODULES)) throw new Error(`module ${name} is not available in cloudfront-js-2.0`);
  return require(MODULES[name]);
}

async function run(fn) {
  const out = { name: fn.name, results: [] };
  if (Buffer.byteLength(fn.code, 'utf8') > MAX_CODE_BYTES) {
    out.error = `code is ${Buffer.byteLength(fn.code, 'utf8')} bytes, over the 10 KB limit`;
    return out;
  }
  const sandbox = { console: { log() {} }, require: runtimeRequire };
  const context = vm.createContext(sandbox, { codeGeneration: { strings: false, wasm: false } });
  try {
    new vm.Script(fn.code, { filename: fn.name }).runInContext(context, { timeout: 1000 });
  } catch (e) {
    out.error = `does not load: ${e}`;
    return out;
  }
  if (typeof context.handler !== 'function') {
    out.error = 'defines no handler(event) function';
    return out;
  }
  for (const event of fn.events) {
    try {
      const value = await context.handler(JSON.parse(JSON.stringify(event)));
      out.results.push({ value: JSON.parse(JSON.stringify(value === undefined ? null : value)) });
    } catch (e) {
      out.results.push({ error: String(e) });
    }
  }
  return out;
}

(async () => {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const results = [];
  for (const fn of input.functions) results.push(await run(fn));
  process.stdout.write(JSON.stringify(results));
})();
