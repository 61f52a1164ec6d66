/* GSM 03.38 encoding detection and SMS segment counting: a port of messages/segments.py.
 * GSM-7 when every character is in the default alphabet or its extension table (extension characters cost two
 * septets); otherwise the whole text is UCS-2, counted in UTF-16 units. Concatenated parts hold 153 septets or
 * 67 units, and a two-unit character (escape pair, surrogate pair) never splits across parts. */
(function (root) {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
              "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "^{}\\[~]|€\f";
  var basic = new Set(Array.from(BASIC));
  var ext = new Set(Array.from(EXTENSION));
  var SINGLE = { "GSM-7": 160, "UCS-2": 70 };
  var PART = { "GSM-7": 153, "UCS-2": 67 };

  function isGsm7(text) {
    for (var c of text) { if (!basic.has(c) && !ext.has(c)) return false; }
    return true;
  }

  function nonGsm7(text) {
    var seen = [];
    for (var c of text) { if (!basic.has(c) && !ext.has(c) && seen.indexOf(c) < 0) seen.push(c); }
    return seen;
  }

  function widths(text, encoding) {
    var out = [];
    for (var c of text) {
      if (encoding === "GSM-7") out.push(ext.has(c) ? 2 : 1);
      else out.push(c.codePointAt(0) > 0xFFFF ? 2 : 1);
    }
    return out;
  }

  function count(text) {
    var encoding = isGsm7(text) ? "GSM-7" : "UCS-2";
    var w = widths(text, encoding);
    var total = w.reduce(function (a, b) { return a + b; }, 0);
    if (total <= SINGLE[encoding]) return { encoding: encoding, characters: total, segments: text ? 1 : 0 };
    var parts = 1, used = 0;
    for (var i = 0; i < w.length; i++) {
      if (used + w[i] > PART[encoding]) { parts += 1; used = 0; }
      used += w[i];
    }
    return { encoding: encoding, characters: total, segments: parts };
  }

  function screenLength(text) {
    var encoding = isGsm7(text) ? "GSM-7" : "UCS-2";
    return { encoding: encoding, units: widths(text, encoding).reduce(function (a, b) { return a + b; }, 0) };
  }

  root.DalilSegments = { isGsm7: isGsm7, nonGsm7: nonGsm7, count: count, screenLength: screenLength };
})(typeof window !== "undefined" ? window : globalThis);
