// Addresses and prefixes, enough to find which live prefix holds an attack's target.

/** "203.0.113.7" or "2001:db8::1" → {v: 4|6, n: BigInt}; null when it is neither. */
export function parseIp(s) {
  if (typeof s !== 'string') return null;
  if (s.includes('.') && !s.includes(':')) {
    const parts = s.split('.');
    if (parts.length !== 4) return null;
    let n = 0n;
    for (const p of parts) {
      if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
      n = (n << 8n) | BigInt(p);
    }
    return { v: 4, n };
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h) => (h ? h.split(':') : []);
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  let n = 0n;
  for (const g of [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return { v: 6, n };
}

/** "203.0.113.0/24" → {v, n, len}; a plain address is a full-length prefix. */
export function parseCidr(s) {
  if (typeof s !== 'string') return null;
  const [addr, lenText] = s.split('/');
  const ip = parseIp(addr);
  if (!ip) return null;
  const bits = ip.v === 4 ? 32 : 128;
  const len = lenText == null ? bits : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > bits) return null;
  return { ...ip, len, bits };
}

/** Whether prefix `outer` holds all of `inner` (both CIDR or address text). */
export function covers(outer, inner) {
  const a = parseCidr(outer);
  const b = parseCidr(inner);
  if (!a || !b || a.v !== b.v || a.len > b.len) return false;
  const shift = BigInt(a.bits - a.len);
  return (a.n >> shift) === (b.n >> shift);
}
