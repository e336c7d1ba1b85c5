/*
 * A coupon's QR text, read and verified in the browser, exactly as coupons/signing.py does.
 *
 * "PCN1:" + base32 (RFC 4648, no padding) of 87 bytes: a 23-byte header (version, key id, the
 * 13 data symbols of the manual code as 1 + 8 bytes, program id u32, value in cents u32, first
 * and last valid days u16 since 2020-01-01, all big-endian) and the Ed25519 signature of
 * "PCN-coupon-v1\0" + header. A text that the server's encoder would not produce byte for byte
 * (non-zero padding bits, another length, a character outside the alphabet) is refused before
 * any signature check, like the server does, so one coupon has exactly one valid text.
 *
 * window.PCNCoupon:
 *   normalize(text)            uppercase, spaces and dashes removed (coupons.codes.normalize)
 *   isQrText(text)             whether it is a QR text rather than a manual code
 *   parse(text)                the claims, structure only (no signature): throws CouponError
 *   verify(text, publicKeys)   Promise of the claims once the signature holds (kid → base64url)
 *   isWellFormedCode(text)     a manual code whose check symbol holds (coupons/codes.py)
 *   checkSymbol(data13)        the check symbol of 13 data symbols
 *   supportsEd25519()          Promise<boolean>: whether WebCrypto here verifies Ed25519
 * CouponError.code: "invalid_code" | "bad_signature" (with .unknownKey when the key id is not
 * one of the keys given).
 */
(function (global) {
  "use strict";

  var PREFIX = "PCN1:";
  var BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  var CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
  var CODE_BASE = 31;
  var DATA_LENGTH = 13;
  var CODE_LENGTH = 14;
  var HEADER_SIZE = 23;
  var SIGNATURE_SIZE = 64;
  var PAYLOAD_SIZE = HEADER_SIZE + SIGNATURE_SIZE; // 87
  var BODY_LENGTH = Math.ceil((PAYLOAD_SIZE * 8) / 5); // 140
  var VERSION = 1;
  var EPOCH_MS = Date.UTC(2020, 0, 1);
  var DAY_MS = 86400000;
  // b"PCN-coupon-v1\x00"
  var CONTEXT = [80, 67, 78, 45, 99, 111, 117, 112, 111, 110, 45, 118, 49, 0];
  // Python's str.isspace() characters, then the dashes of coupons/codes.py.
  var SPACES_AND_DASHES =
    /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\-\u2010-\u2015\u2212]/g;

  function CouponError(code, message, unknownKey) {
    this.name = "CouponError";
    this.code = code;
    this.message = message || code;
    this.unknownKey = Boolean(unknownKey);
  }
  CouponError.prototype = Object.create(Error.prototype);
  CouponError.prototype.constructor = CouponError;

  function invalid(message) {
    return new CouponError("invalid_code", message);
  }

  function normalize(text) {
    return String(text == null ? "" : text).toUpperCase().replace(SPACES_AND_DASHES, "");
  }

  function isQrText(text) {
    return normalize(text).indexOf(PREFIX) === 0;
  }

  /* base32 of exactly BODY_LENGTH characters → PAYLOAD_SIZE bytes; the bits left over in the
     last character must be zero (the canonical encoding). */
  function base32Decode(body) {
    var bytes = new Uint8Array(PAYLOAD_SIZE);
    var buffer = 0;
    var bits = 0;
    var index = 0;
    for (var i = 0; i < body.length; i += 1) {
      var value = BASE32.indexOf(body.charAt(i));
      if (value < 0) {
        throw invalid("character outside the base32 alphabet");
      }
      buffer = ((buffer << 5) | value) & 0xffff;
      bits += 5;
      if (bits >= 8) {
        bits -= 8;
        if (index >= PAYLOAD_SIZE) {
          throw invalid("wrong QR text length");
        }
        bytes[index] = (buffer >> bits) & 0xff;
        index += 1;
      }
    }
    if (index !== PAYLOAD_SIZE || (buffer & ((1 << bits) - 1)) !== 0) {
      throw invalid("non-canonical encoding");
    }
    return bytes;
  }

  function u16(bytes, at) {
    return (bytes[at] << 8) | bytes[at + 1];
  }

  function u32(bytes, at) {
    return ((bytes[at] << 24) >>> 0) + (bytes[at + 1] << 16) + (bytes[at + 2] << 8) + bytes[at + 3];
  }

  function isoDay(days) {
    return new Date(EPOCH_MS + days * DAY_MS).toISOString().slice(0, 10);
  }

  function weightedSum(symbols) {
    var sum = 0;
    for (var i = 0; i < symbols.length; i += 1) {
      sum += (i + 1) * CODE_ALPHABET.indexOf(symbols.charAt(i));
    }
    return sum;
  }

  function inverseModBase(n) {
    for (var x = 1; x < CODE_BASE; x += 1) {
      if ((n * x) % CODE_BASE === 1) {
        return x;
      }
    }
    throw new Error("no inverse");
  }

  var CHECK_WEIGHT_INVERSE = inverseModBase(CODE_LENGTH);

  function checkSymbol(data) {
    data = normalize(data);
    if (data.length !== DATA_LENGTH || !/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]+$/.test(data)) {
      throw new Error("expected 13 symbols from the code alphabet");
    }
    var partial = weightedSum(data) % CODE_BASE;
    var check = (((CODE_BASE - partial) % CODE_BASE) * CHECK_WEIGHT_INVERSE) % CODE_BASE;
    return CODE_ALPHABET.charAt(check);
  }

  function isWellFormedCode(text) {
    var code = normalize(text);
    return (
      code.length === CODE_LENGTH &&
      /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]+$/.test(code) &&
      weightedSum(code) % CODE_BASE === 0
    );
  }

  /* The 9 code bytes (1 + 8) as the 14-symbol manual code, or null if out of range. */
  function codeOf(bytes) {
    var number = BigInt(0);
    for (var i = 2; i < 11; i += 1) {
      number = (number << BigInt(8)) | BigInt(bytes[i]);
    }
    var base = BigInt(CODE_BASE);
    if (number >= base ** BigInt(DATA_LENGTH)) {
      return null;
    }
    var digits = "";
    for (var d = 0; d < DATA_LENGTH; d += 1) {
      digits = CODE_ALPHABET.charAt(Number(number % base)) + digits;
      number = number / base;
    }
    return digits + checkSymbol(digits);
  }

  /* Structure only: what coupons.signing.decode_qr checks before and after the signature. */
  function decode(text) {
    var normalized = normalize(text);
    if (normalized.indexOf(PREFIX) !== 0) {
      throw invalid("not a coupon QR text");
    }
    var body = normalized.slice(PREFIX.length);
    if (body.length !== BODY_LENGTH) {
      throw invalid("wrong QR text length");
    }
    var payload = base32Decode(body);
    if (payload[0] !== VERSION) {
      throw invalid("unknown payload version " + payload[0]);
    }
    return { text: normalized, payload: payload };
  }

  function claimsOf(decoded) {
    var bytes = decoded.payload;
    var code = codeOf(bytes);
    if (code === null) {
      throw invalid("code out of range");
    }
    var from = u16(bytes, 19);
    var until = u16(bytes, 21);
    if (from > until) {
      throw invalid("validity period is empty");
    }
    return {
      text: decoded.text,
      kid: bytes[1],
      code: code,
      programId: u32(bytes, 11),
      valueCents: u32(bytes, 15),
      validFrom: isoDay(from),
      validUntil: isoDay(until),
    };
  }

  function parse(text) {
    return claimsOf(decode(text));
  }

  function base64UrlBytes(text) {
    var b64 = String(text).replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var raw = global.atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }

  function subtle() {
    return global.crypto && global.crypto.subtle ? global.crypto.subtle : null;
  }

  // Imported keys, by their base64url text (a rotation adds keys, never changes one).
  var imported = {};

  function importKey(b64) {
    if (!imported[b64]) {
      imported[b64] = subtle()
        .importKey("raw", base64UrlBytes(b64), { name: "Ed25519" }, false, ["verify"])
        .catch(function (error) {
          delete imported[b64];
          throw error;
        });
    }
    return imported[b64];
  }

  function verify(text, publicKeys) {
    return Promise.resolve().then(function () {
      var decoded = decode(text);
      var b64 = publicKeys ? publicKeys[String(decoded.payload[1])] : undefined;
      if (!b64) {
        throw new CouponError("bad_signature", "unknown key id " + decoded.payload[1], true);
      }
      if (!subtle()) {
        throw new CouponError("no_crypto", "WebCrypto is not available");
      }
      var signed = new Uint8Array(CONTEXT.length + HEADER_SIZE);
      signed.set(CONTEXT, 0);
      signed.set(decoded.payload.subarray(0, HEADER_SIZE), CONTEXT.length);
      var signature = decoded.payload.slice(HEADER_SIZE, PAYLOAD_SIZE);
      return importKey(b64)
        .then(function (key) {
          return subtle().verify({ name: "Ed25519" }, key, signature, signed);
        }, function () {
          throw new CouponError("no_crypto", "Ed25519 is not supported here");
        })
        .then(function (valid) {
          if (!valid) {
            throw new CouponError("bad_signature", "signature does not verify");
          }
          return claimsOf(decoded);
        });
    });
  }

  // RFC 8032, section 7.1, test 1: the empty message signed by its key.
  var TEST_KEY = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
  var TEST_SIGNATURE =
    "5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc-bRr0lv18FlbviRlUUFDjnoQCw";
  var support = null;

  function supportsEd25519() {
    if (support === null) {
      support = !subtle()
        ? Promise.resolve(false)
        : importKey(TEST_KEY)
            .then(function (key) {
              return subtle().verify(
                { name: "Ed25519" }, key, base64UrlBytes(TEST_SIGNATURE), new Uint8Array(0)
              );
            })
            .then(function (valid) {
              return valid === true;
            }, function () {
              return false;
            });
    }
    return support;
  }

  global.PCNCoupon = {
    CouponError: CouponError,
    normalize: normalize,
    isQrText: isQrText,
    parse: parse,
    verify: verify,
    isWellFormedCode: isWellFormedCode,
    checkSymbol: checkSymbol,
    supportsEd25519: supportsEd25519,
  };
})(window);
