/**
 * Test support for the property-based fuzz tests (`*_fuzz_test.ts`): how many cases to run, the
 * one invariant every parser of network or file input keeps (it returns, or throws its module's
 * typed error, never anything else), and generators of near-valid input: mutations of documents the
 * product itself made, since random bytes rarely get past a parser's first check.
 *
 * `npm test` runs {@linkcode DEFAULT_FUZZ_RUNS} cases per property; `npm run fuzz` sets
 * `MLE_FUZZ_RUNS` (more cases) and prints one summary line per property. `MLE_FUZZ_SEED` replays a
 * failure that fast-check reported.
 *
 * @module
 */

import fc from "fast-check";
import {
  decodeBase64UrlText,
  encodeBase64Url,
  encodeBase64UrlText,
} from "../envelope/base64url.ts";
import { MleError, type MleErrorCode } from "../envelope/errors.ts";
import { signJsonJws } from "../envelope/jws.ts";

export { fc };

/** Cases per property when `MLE_FUZZ_RUNS` is not set. */
export const DEFAULT_FUZZ_RUNS = 10_000;

/** Cases per property: `MLE_FUZZ_RUNS`, else {@linkcode DEFAULT_FUZZ_RUNS}. */
export const FUZZ_RUNS = positiveIntegerFromEnv("MLE_FUZZ_RUNS") ?? DEFAULT_FUZZ_RUNS;

const SEED = integerFromEnv("MLE_FUZZ_SEED");
const SUMMARY = Deno.env.get("MLE_FUZZ_RUNS") !== undefined;

/** True for the errors a parser may throw; anything else breaks the invariant. */
export type ExpectedError = (error: unknown) => boolean;

/** Expects an {@linkcode MleError} with one of `codes`. */
export function mleError(...codes: MleErrorCode[]): ExpectedError {
  return (error) => error instanceof MleError && codes.includes(error.code);
}

/** Expects an error of one of the given classes (a caller mistake: `RangeError`, `TypeError`). */
export function errorOf(...classes: ErrorConstructor[]): ExpectedError {
  return (error) => classes.some((kind) => error instanceof kind);
}

/** Expects no error at all: the parser answers every input with a value. */
export const noError: ExpectedError = () => false;

/** Options of {@linkcode fuzzParser}. */
export interface FuzzOptions {
  /** Cases to run (default {@linkcode FUZZ_RUNS}); lower only for a parser that needs RSA. */
  runs?: number;
}

/**
 * Runs `parse` on `runs` generated inputs and fails with fast-check's smallest counterexample when
 * one throws anything but an expected error (or when `parse`'s own checks of what it accepted
 * fail). Each case has a deadline, so a parser that hangs fails instead of stalling the suite.
 *
 * @example
 * ```ts ignore
 * await fuzzParser("decodeBase64Url", fc.string(), decodeBase64Url, errorOf(SyntaxError));
 * ```
 */
export async function fuzzParser<T>(
  name: string,
  input: fc.Arbitrary<T>,
  parse: (value: T) => unknown,
  expected: ExpectedError,
  options: FuzzOptions = {},
): Promise<void> {
  const runs = options.runs ?? FUZZ_RUNS;
  let accepted = 0;
  let refused = 0;
  const started = performance.now();
  await fc.assert(
    fc.asyncProperty(input, async (value) => {
      try {
        await parse(value);
        accepted++;
      } catch (error) {
        if (!expected(error)) throw error;
        refused++;
      }
    }),
    { numRuns: runs, timeout: 10_000, ...(SEED === undefined ? {} : { seed: SEED }) },
  );
  if (SUMMARY) {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `fuzz: ${name}: ${accepted + refused} cases (${accepted} accepted, ${refused} refused ` +
        `with the typed error) in ${seconds} s`,
    );
  }
}

/** Cases for a property that costs an RSA private-key operation per case: a tenth, at least 200. */
export function rsaRuns(): number {
  return Math.max(200, Math.ceil(FUZZ_RUNS / 10));
}

/** A count of calls of one `crypto.subtle` operation, kept until disposed. */
export interface SubtleCallCounter extends Disposable {
  /** Calls made since the counter was created. */
  readonly calls: number;
}

/**
 * Counts calls of one `crypto.subtle` operation (`decrypt`, `deriveKey`…) until disposed: proof
 * that a parser refused an input before its expensive step, so that property can run at
 * {@linkcode FUZZ_RUNS} cases while the step itself runs at fewer.
 *
 * @example
 * ```ts ignore
 * using rsa = countSubtleCalls("decrypt");
 * assert.equal(await unwrapContentKey(key, "short"), null);
 * assert.equal(rsa.calls, 0);
 * ```
 */
export function countSubtleCalls(operation: keyof SubtleCrypto): SubtleCallCounter {
  const subtle = crypto.subtle as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = subtle[operation];
  let calls = 0;
  Object.defineProperty(subtle, operation, {
    configurable: true,
    writable: true,
    value: (...args: unknown[]) => {
      calls++;
      return original.apply(crypto.subtle, args);
    },
  });
  return {
    get calls() {
      return calls;
    },
    [Symbol.dispose]() {
      delete subtle[operation];
    },
  };
}

/** Any JSON value, as `JSON.parse` hands a parser the body of a request or file. */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 4 });

/** Text of every kind: ASCII, any UTF-16 (lone surrogates too), and base64url-looking text. */
export const anyText: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)) }),
  fc.string({ unit: fc.constantFrom(..."AZaz09-_=+/. \n") }),
  fc.uint8Array({ maxLength: 64 }).map(encodeBase64Url),
);

/** Bytes, short or a few KiB. */
export const anyBytes: fc.Arbitrary<Uint8Array<ArrayBuffer>> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ maxLength: 4096 }),
).map((bytes) => new Uint8Array(bytes));

/**
 * One edit of a text: a character replaced, inserted or deleted, a cut, a range doubled or dropped.
 * Most edits keep the text's alphabet, so that they reach past a base64url decoder.
 */
export function mutatedText(valid: string): fc.Arbitrary<string> {
  const at = fc.nat({ max: Math.max(0, valid.length) });
  const base64Character = fc.constantFrom(
    ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
  );
  const anyCharacter = fc.oneof(base64Character, fc.string({ minLength: 1, maxLength: 2 }));
  return fc.oneof(
    fc.tuple(at, anyCharacter).map(([i, c]) => valid.slice(0, i) + c + valid.slice(i + 1)),
    fc.tuple(at, anyCharacter).map(([i, c]) => valid.slice(0, i) + c + valid.slice(i)),
    at.map((i) => valid.slice(0, i) + valid.slice(i + 1)),
    at.map((i) => valid.slice(0, i)),
    fc.tuple(at, at).map(([i, j]) => valid.slice(0, Math.max(i, j)) + valid.slice(Math.min(i, j))),
    fc.tuple(at, at).map(([i, j]) => valid.slice(0, Math.min(i, j)) + valid.slice(Math.max(i, j))),
    fc.constant(valid),
  );
}

/**
 * One edit of a JSON object: a member removed, replaced by any JSON value, its value edited as
 * text (when a string), or a member added.
 */
export function mutatedObject(
  valid: Record<string, unknown>,
): fc.Arbitrary<Record<string, unknown>> {
  const names = Object.keys(valid);
  const name = names.length > 0 ? fc.constantFrom(...names) : fc.string();
  const edits: fc.Arbitrary<Record<string, unknown>>[] = [
    name.map((key) => withoutMember(valid, key)),
    fc.tuple(name, anyJson).map(([key, value]) => ({ ...valid, [key]: value })),
    fc.tuple(fc.oneof(fc.string(), name), anyJson).map(([key, value]) => ({
      ...valid,
      [key]: value,
    })),
  ];
  const texts = names.filter((key) => typeof valid[key] === "string");
  for (const key of texts) {
    edits.push(mutatedText(valid[key] as string).map((text) => ({ ...valid, [key]: text })));
  }
  return fc.oneof(...edits);
}

/**
 * One edit of a base64url-encoded JSON object (a JOSE protected header or a document body): the
 * JSON is edited as an object, then encoded again, so that the edit reaches the checks behind the
 * decoder.
 */
export function mutatedEncodedObject(encoded: string): fc.Arbitrary<string> {
  const object = JSON.parse(decodeBase64UrlText(encoded)) as Record<string, unknown>;
  return fc.oneof(
    mutatedObject(object).map((edited) => encodeBase64UrlText(JSON.stringify(edited))),
    mutatedText(encoded),
  );
}

/**
 * One edit of a flattened JOSE object (a JWS, a JWE, a message with `sig`): any member edited as
 * text, the protected header edited as JSON, or the object edited as a whole.
 */
export function mutatedJose<T extends object>(valid: T): fc.Arbitrary<Record<string, unknown>> {
  const object = valid as Record<string, unknown>;
  const edits: fc.Arbitrary<Record<string, unknown>>[] = [mutatedObject(object)];
  for (const [key, value] of Object.entries(object)) {
    if (typeof value !== "string") continue;
    edits.push(mutatedText(value).map((text) => ({ ...object, [key]: text })));
  }
  if (typeof object.protected === "string") {
    edits.push(
      mutatedEncodedObject(object.protected).map((text) => ({ ...object, protected: text })),
    );
  }
  return fc.oneof(...edits);
}

/** A flattened JOSE object's members as random base64url-looking strings, or any JSON value. */
export function joseShaped(members: readonly string[]): fc.Arbitrary<unknown> {
  const record: Record<string, fc.Arbitrary<string>> = {};
  for (const member of members) record[member] = anyText;
  return fc.oneof(fc.record(record), anyJson);
}

/** The members of a flattened JWS. */
export const JWS_MEMBERS = ["protected", "payload", "signature"] as const;

/** The members of a flattened JWE. */
export const JWE_MEMBERS = ["protected", "encrypted_key", "iv", "ciphertext", "tag"] as const;

/** The members of a sealed message: a flattened JWE with the sender's signature `sig`. */
export const SEALED_MEMBERS = [...JWE_MEMBERS, "sig"] as const;

/**
 * Inputs for a reader of flattened JOSE objects: one edit of each valid object the product made,
 * an object with each list of members holding random text, or any JSON value.
 */
export function joseInputs(
  validObjects: readonly object[],
  memberLists: readonly (readonly string[])[],
): fc.Arbitrary<unknown> {
  return fc.oneof(
    ...validObjects.map((valid) => mutatedJose(valid)),
    ...memberLists.map((members) => joseShaped(members)),
    anyJson,
  );
}

/** A case for a verifier of signed documents: a whole document, or a body still to be signed. */
export type SignedDocumentCase = { document: unknown } | { body: unknown };

/**
 * Cases for a verifier of signed documents: one edit of the valid signed document, any JSON value,
 * or one edit of each valid body, which {@linkcode signedDocumentOf} then signs with the right key
 * so that the checks behind the signature are reached.
 */
export function signedDocumentCases(
  signed: object,
  ...validBodies: Record<string, unknown>[]
): fc.Arbitrary<SignedDocumentCase> {
  return fc.oneof(
    mutatedJose(signed).map((document) => ({ document })),
    anyJson.map((document) => ({ document })),
    ...validBodies.map((valid) => documentBodies(valid).map((body) => ({ body }))),
  );
}

/** The document of a case: as generated, or its body signed by `privateKey` as `typ`. */
export async function signedDocumentOf(
  input: SignedDocumentCase,
  privateKey: CryptoKey,
  typ: string,
): Promise<unknown> {
  return "document" in input ? input.document : await signJsonJws(privateKey, typ, input.body);
}

/** A document body: one edit of a valid body (nested members too), or any JSON value. */
export function documentBodies(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const edits: fc.Arbitrary<unknown>[] = [mutatedObject(valid), anyJson];
  for (const [key, value] of Object.entries(valid)) {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      edits.push(
        mutatedObject(value as Record<string, unknown>).map((inner) => ({
          ...valid,
          [key]: inner,
        })),
      );
    }
    if (Array.isArray(value)) {
      edits.push(
        fc.array(anyJson, { maxLength: 4 }).map((items) => ({
          ...valid,
          [key]: [...value, ...items],
        })),
      );
    }
  }
  return fc.oneof(...edits);
}

/** Pieces of a body as the network may cut it, and a bound near their total. */
export const piecesAndBound: fc.Arbitrary<[Uint8Array[], number]> = fc.array(
  fc.uint8Array({ maxLength: 300 }),
  { maxLength: 12 },
).chain(
  (pieces) => {
    const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
    return fc.tuple(
      fc.constant(pieces),
      fc.oneof(fc.integer({ min: Math.max(0, total - 2), max: total + 2 }), fc.nat({ max: 4000 })),
    );
  },
);

/** A stream of `pieces` that counts how many of them were pulled. */
export function countingStream(
  pieces: Uint8Array[],
): { stream: ReadableStream<Uint8Array>; counter: { pulled: number; cancelled: boolean } } {
  const counter = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (counter.pulled === pieces.length) return controller.close();
      controller.enqueue(pieces[counter.pulled++].slice());
    },
    cancel() {
      counter.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, counter };
}

function withoutMember(object: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...object };
  delete copy[key];
  return copy;
}

function positiveIntegerFromEnv(name: string): number | undefined {
  const value = integerFromEnv(name);
  if (value !== undefined && value < 1) throw new RangeError(`${name} must be at least 1`);
  return value;
}

function integerFromEnv(name: string): number | undefined {
  const text = Deno.env.get(name);
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`${name} must be a whole number`);
  return value;
}
