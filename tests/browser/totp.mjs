// TOTP as an authenticator app computes it (RFC 6238: HMAC-SHA1, 30 s
// steps, 6 digits), for the browser scenarios that log in.
import { createHmac } from 'node:crypto';

export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

// `secret` is the raw key (a Buffer).
export function totp(secret, unixSeconds) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(code).padStart(6, '0');
}

// The base32 secret of an otpauth://totp/... URI.
export function secretOfUri(uri) {
  const secret = new URL(uri).searchParams.get('secret');
  if (!secret) throw new Error('no secret in ' + uri);
  return secret;
}
