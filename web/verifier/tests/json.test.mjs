// RFC 8785 canonical form and the strict reader, against the RFC's own examples.

import assert from "node:assert/strict";
import { test } from "node:test";

import { utf8 } from "../src/bytes.js";
import { JsonError, MAX_DEPTH, canonicalText, parseCanonical, parseJson } from "../src/json.js";

test("RFC 8785 3.2.3: members sort by UTF-16 code units", () => {
  const input =
    '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", ' +
    '"1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}';
  const out = canonicalText(parseJson(input));
  // The RFC lists the order of the sorted property names:
  const order = ["\\r", "1", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"].map((key) => out.indexOf(`"${key}":`));
  assert.ok(order.every((at) => at > 0), String(order));
  assert.deepEqual([...order].sort((a, b) => a - b), order);
});

test("RFC 8785 3.2.2.2: the example's strings and literals serialise as the RFC shows", () => {
  const input = '{"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}';
  assert.equal(canonicalText(parseJson(input)), '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
});

test("the RFC's numbers example is refused: entries hold no floating-point numbers", () => {
  assert.throws(() => parseJson('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3]}'), /floating-point/);
});

test("canonical bytes are recognised, anything else is not", () => {
  assert.equal(parseCanonical(utf8('{"a":1,"b":[true,null,"x"]}')).canonical, true);
  for (const text of ['{"b":1,"a":2}', '{"a": 1}', '{"a":"\\u0041"}', '{"a":-0}', '{"a":"\\/"}', " {}"]) {
    assert.equal(parseCanonical(utf8(text)).canonical, false, text);
  }
});

test("integers beyond 2^53-1 are refused (RFC 8785 3.2.2.3, I-JSON)", () => {
  assert.equal(parseJson("9007199254740991"), 9007199254740991);
  assert.equal(parseJson("-9007199254740991"), -9007199254740991);
  assert.throws(() => parseJson("9007199254740992"), /2\^53/);
  assert.throws(() => parseJson("9".repeat(5000)), /2\^53/);
});

test("duplicate keys are refused, by name", () => {
  assert.throws(() => parseJson('{"label":1,"label":2}'), /duplicate object key 'label'/);
  // Not the prototype: a key named __proto__ is an ordinary member.
  assert.deepEqual(Object.keys(parseJson('{"__proto__":1}')), ["__proto__"]);
});

test("nesting is refused beyond the limit, before recursion can run away", () => {
  const deep = (n) => "[".repeat(n) + "]".repeat(n);
  assert.ok(Array.isArray(parseJson(deep(MAX_DEPTH))));
  assert.throws(() => parseJson(deep(MAX_DEPTH + 1)), /nested deeper/);
  assert.throws(() => parseJson(deep(100_000)), /nested deeper/);
});

test("bad UTF-8, lone surrogates and syntax errors are refused", () => {
  assert.throws(() => parseCanonical(new Uint8Array([0x22, 0xff, 0x22])), /UTF-8/);
  assert.throws(() => parseJson('"\\ud800"'), /surrogate/);
  assert.throws(() => parseJson('"\\udc00x"'), /surrogate/);
  for (const text of ["", "{", '{"a"}', "[1,]", "01", "-", "tru", '"a\nb"', "NaN", "[1] x"]) {
    assert.throws(() => parseJson(text), JsonError, JSON.stringify(text));
  }
});
