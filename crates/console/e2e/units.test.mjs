// Unit tests of the console's pure JavaScript (parsing, formatting, scales), run with
// `node --test` — no browser and no packages needed. crates/strata/tests/it/console.rs runs them.

import test from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from '../assets/js/sse.js';
import { toCsv, csvField } from '../assets/js/csv.js';
import { niceTicks, timeTicks } from '../assets/js/chart.js';
import { fmt } from '../assets/js/dom.js';
import { qs } from '../assets/js/api.js';
import { picoToUsd } from '../assets/js/pages/usage.js';
import { statsLine } from '../assets/js/pages/playground.js';
import { resources, placement } from '../assets/js/pages/jobs.js';

test('SSE events are split on blank lines, across chunk boundaries and CRLF', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('data: {"a":'), []);
  assert.deepEqual(p.push('1}\n\ndata: x\r\n\r\n: comment\n\ndata: [DO'), ['{"a":1}', 'x']);
  assert.deepEqual(p.push('NE]\n\n'), ['[DONE]']);
  assert.deepEqual(new SseParser().push('event: e\ndata: one\ndata: two\n\n'), ['one\ntwo']);
});

test('CSV quotes what needs quoting and ends lines with CRLF', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField(null), '');
  const csv = toCsv([['name', (r) => r.n], ['cost', (r) => r.c]], [{ n: 'x,y', c: 1 }, { n: 'z', c: 0 }]);
  assert.equal(csv, 'name,cost\r\n"x,y",1\r\nz,0\r\n');
});

test('exact dollars from pico-dollars', () => {
  assert.equal(picoToUsd(0), '0.000000000000');
  assert.equal(picoToUsd(7_850_000), '0.000007850000');
  assert.equal(picoToUsd(12_345_000_000_000_001n), '12345.000000000001');
  assert.equal(picoToUsd(-1), '-0.000000000001');
});

test('ticks are round and cover the maximum', () => {
  assert.deepEqual(niceTicks(4), [0, 1, 2, 3, 4]);
  assert.deepEqual(niceTicks(1), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(niceTicks(1, 4, true), [0, 1]);
  assert.deepEqual(niceTicks(0), [0, 1]);
  const t = niceTicks(0.0000078);
  assert.ok(t.at(-1) >= 0.0000078 && t.length <= 6, String(t));
  const hour = timeTicks(0, 3600e3, 6);
  assert.ok(hour.length >= 2 && hour.length <= 7 && hour.every((x) => x % 600e3 === 0), String(hour));
});

test('formatting for people', () => {
  assert.equal(fmt.bytes(80 * 1024 ** 3), '80 GiB');
  assert.equal(fmt.bytes(98_362_432), '93.8 MiB');
  assert.equal(fmt.gpus(2500), '2.5');
  assert.equal(fmt.cores(1000), '1 core');
  assert.equal(fmt.cores(250), '0.25 cores');
  assert.equal(fmt.usd(0.00000785), '$0.00000785');
  assert.equal(fmt.usdShort(0.000008), '8 µ$');
  assert.equal(fmt.usdShort(0.25), '$0.25');
  assert.equal(fmt.duration(3_725_000), '1h 2m');
  assert.equal(qs({ a: 1, b: '', c: undefined, d: 'x y' }), '?a=1&d=x+y');
});

test('a job in words: what it asks for and where it runs', () => {
  const spec = { replicas: 2, resources: { gpu_milli: 2000, gpu_models: ['H100-80GB'], cpu_milli: 4000, memory_mib: 8192 } };
  assert.equal(resources(spec), '2 × 2 GPUs (H100-80GB), 4 cores, 8 GiB');
  const job = { tasks: [{ replica: 0, node_name: 'a', gpus: [{ index: 0, milli: 1000 }, { index: 1, milli: 1000 }] }, { replica: 1, node_name: 'b', gpus: [{ index: 3, milli: 500 }] }] };
  assert.equal(placement(job), 'rank 0 on a GPU 0,1; rank 1 on b GPU 3 (0.5)');
  assert.equal(placement({ tasks: [] }), null);
});

test('the playground measures time to first token and the decode rate', () => {
  const line = statsLine({ sentAt: 0, firstAt: 200, endAt: 1200, completionTokens: 21, promptTokens: 9, finish: 'stop' });
  assert.equal(line, 'TTFT 200 ms · 20.0 tokens/s · 21 tokens (prompt 9) · 1200 ms total · finish: stop');
  assert.equal(statsLine({ sentAt: 0, firstAt: null, endAt: 50, completionTokens: 0 }), '0 tokens · 50 ms total');
});
