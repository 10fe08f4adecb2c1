// The console's pure parts under Node's test runner (`node --test unit.test.mjs`): the
// text/event-stream parser and the formatting of rates, times and axes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventParser } from '../../crates/server/console/api.js';
import * as f from '../../crates/server/console/format.js';
import { covers, parseIp } from '../../crates/server/console/net.js';

function parse(chunks) {
  const got = [];
  const p = new EventParser((event, data) => got.push([event, data]));
  for (const c of chunks) p.push(c);
  return got;
}

test('events split anywhere across chunks come out whole', () => {
  const stream = 'event: traffic\ndata: {"t":1}\n\n: keep-alive\n\nevent: detection\ndata: {"phase":"started"}\n\n';
  const whole = parse([stream]);
  assert.deepEqual(whole, [['traffic', '{"t":1}'], ['detection', '{"phase":"started"}']]);
  for (let i = 1; i < stream.length; i += 1) {
    assert.deepEqual(parse([stream.slice(0, i), stream.slice(i)]), whole, `split at ${i}`);
  }
  assert.deepEqual(parse([...stream]), whole, 'one character at a time');
});

test('CRLF and CR line ends, several data lines, no space after the colon', () => {
  assert.deepEqual(parse(['event:lagged\r\ndata:{"missed":3}\r\n\r\n']), [['lagged', '{"missed":3}']]);
  assert.deepEqual(parse(['data: a\rdata: b\r\r']), [['message', 'a\nb']]);
  // A CR at the end of a chunk may be half of a CRLF.
  assert.deepEqual(parse(['data: x\r', '\n\r', '\n']), [['message', 'x']]);
});

test('an event without data is not emitted, and the event name does not leak', () => {
  assert.deepEqual(parse(['event: traffic\n\ndata: y\n\n']), [['message', 'y']]);
});

test('timestamps with nanoseconds parse to milliseconds', () => {
  assert.equal(f.ms('2026-12-01T08:20:01.123456789Z'), Date.UTC(2026, 11, 1, 8, 20, 1, 123));
  assert.equal(f.ms('2026-12-01T08:20:01Z'), Date.UTC(2026, 11, 1, 8, 20, 1));
  assert.equal(f.ms('2026-12-01T08:20:01.5+01:00'), Date.UTC(2026, 11, 1, 7, 20, 1, 500));
  assert.equal(f.ms(10), 10_000);
  assert.equal(f.ms(null), null);
});

test('rates read with units', () => {
  assert.equal(f.pps(0), '0 pps');
  assert.equal(f.pps(583), '583 pps');
  assert.equal(f.pps(1390), '1.39 kpps');
  assert.equal(f.bps(554_000), '554 kbit/s');
  assert.equal(f.bps(2_200_000_000), '2.20 Gbit/s');
  assert.equal(f.axisRate('pps', 8000), '8 kpps');
  assert.equal(f.axisRate('bps', 2_500_000), '2.5 Mbit/s');
  assert.equal(f.per(1612, 'records/s'), '1.61 k records/s');
  assert.equal(f.per(5, 'records/s'), '5 records/s');
});

test('durations and names', () => {
  assert.equal(f.duration(0), '0 s');
  assert.equal(f.duration(75), '1 min 15 s');
  assert.equal(f.duration(3725), '1 h 2 min');
  assert.equal(f.duration(90_000), '1 d 1 h');
  assert.equal(f.vector('syn_flood'), 'SYN flood');
  assert.equal(f.vector('dns_amplification'), 'DNS amplification');
  assert.equal(f.vector('synack_reflection'), 'SYN-ACK reflection');
});

test('axis ticks are round and cover the maximum', () => {
  for (const max of [1, 7, 99, 1234, 8_123_456, 0.3]) {
    const { top, step, values } = f.ticks(max);
    assert.ok(top >= max, `top ${top} covers ${max}`);
    const mantissa = step / 10 ** Math.floor(Math.log10(step));
    assert.ok([1, 2, 2.5, 5].some((m) => Math.abs(m - mantissa) < 1e-9), `round step ${step}`);
    assert.equal(values[0], 0);
    assert.ok(values.length <= 7);
  }
  assert.deepEqual(f.ticks(0).values, [0, 1]);
});

test('prefixes hold their addresses, IPv4 and IPv6', () => {
  assert.ok(covers('203.0.113.0/24', '203.0.113.100'));
  assert.ok(covers('203.0.113.0/24', '203.0.113.0/25'));
  assert.ok(!covers('203.0.113.0/25', '203.0.113.200'));
  assert.ok(!covers('203.0.113.0/25', '203.0.113.0/24'));
  assert.ok(covers('0.0.0.0/0', '198.51.100.1'));
  assert.ok(covers('2001:db8:1::/64', '2001:db8:1::10'));
  assert.ok(covers('2001:db8:1::/48', '2001:db8:1:ffff::1'));
  assert.ok(!covers('2001:db8:1::/64', '2001:db8:2::1'));
  assert.ok(!covers('203.0.113.0/24', '2001:db8::1'));
  assert.equal(parseIp('::1').n, 1n);
  assert.equal(parseIp('2001:db8::').n, 0x20010db8n << 96n);
  for (const bad of ['1.2.3', '1.2.3.256', '1::2::3', '12345::', 'x', '', '1:2:3:4:5:6:7:8:9']) {
    assert.equal(parseIp(bad), null, bad);
  }
  assert.ok(!covers('203.0.113.0/33', '203.0.113.1'));
});
