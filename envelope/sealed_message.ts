/**
 * The one codec of a sealed message: what a client or a relay sends the server when the content
 * must stay secret from everyone between them. Reports, upload manifests and relay bundles are all
 * this message; each declares only its own claims ({@linkcode SealedMessageKind}).
 *
 * - **Sealed**: a flattened JWE to the server's RSA key (`envelope/jwe.ts`) whose protected header
 *   carries the kind's `cty` and its claims in clear (so relays can route and account without
 *   decrypting; AES-GCM authenticates them with the content), plus the sender's Ed25519 signature
 *   over the JWE's compact form (`sig`, `envelope/sender_signature.ts`). That outer signature lets
 *   the server and relays check who sent a message before any RSA private-key operation.
 * - **Signed and sealed** (reports, manifests, {@linkcode SignedMessageKind}): the plaintext is a
 *   compact JWS (`typ` of the kind) by the same sender naming the same claims and the server key id.
 *   It survives decryption, so a decrypting relay can pass a client's report on and the server
 *   still checks the client's own signature; because it names the key id and the computer id,
 *   nobody can re-wrap another sender's message as theirs. In clear, the JWS alone travels.
 *
 * Everything here is pure: Web Crypto and bytes.
 *
 * @module
 */

import { decodeBase64Url } from "./base64url.ts";
import { checkClaims, type ClaimRules, claimsInOrder } from "./claim_rules.ts";
import { MleError } from "./errors.ts";
import {
  type ContentKey,
  decryptJwe,
  encryptJwe,
  type FlattenedJwe,
  type JweHeader,
  readJweHeader,
} from "./jwe.ts";
import {
  type FlattenedJws,
  fromCompactJws,
  type JwsHeader,
  readJwsHeader,
  signJws,
  toCompactJws,
  verifyJws,
} from "./jws.ts";
import { signSenderSignature, verifySenderSignature } from "./sender_signature.ts";
import { ED25519_SIGNATURE_LENGTH } from "./signature.ts";
import { decodeUtf8 } from "./utf8.ts";

/** A sealed message as it travels: a flattened JWE plus the sender's signature over its compact form. */
export interface SealedMessage extends FlattenedJwe {
  /** The sender's Ed25519 signature over the JWE compact serialization, base64url. */
  sig: string;
}

/** What one kind of sealed message declares: its content type, its claims and its words. */
export interface SealedMessageKind<Claims> {
  /** What errors call it: `Cannot read <name>: …`. */
  readonly name: string;
  /** The JWE `cty`. */
  readonly contentType: string;
  /** The whole error message when the sender's signature does not verify. */
  readonly signatureInvalid: string;
  /**
   * Reads and checks the claims from a protected header (the JWE's, or a signed kind's JWS).
   *
   * @throws {MleError} `ERR_ENVELOPE_MALFORMED` naming the bad claim.
   */
  readonly claimsOf: (header: Record<string, unknown>) => Claims;
  /** The JWE protected header members that carry `claims`, in wire order (`cty` goes first). */
  readonly sealedHeader: (claims: Claims) => Record<string, unknown>;
}

/**
 * The claims every client's signed message carries: who sent it, and the server key it is sealed
 * to. Each kind adds its own (a report's sequence number, an upload's id and chunk layout).
 */
export interface SenderClaims {
  /** The sender's computer id. */
  cid: number;
  /** Key id of the server key it is encrypted to, or null when sent in clear. */
  kid: string | null;
}

/** A kind whose plaintext is the sender's own JWS over the content, naming the same claims. */
export interface SignedMessageKind<Claims extends { kid: string | null }>
  extends SealedMessageKind<Claims> {
  /** The inner JWS `typ`. */
  readonly type: string;
  /** The inner JWS header members after `typ`, in wire order: every claim, `kid` included. */
  readonly signedHeader: (claims: Claims) => Record<string, unknown>;
  /** What the mismatch error names: `its signed <claimNames> differ from the envelope's`. */
  readonly claimNames: string;
}

/** What a kind declares: its words and its claims' rules, from which its header members come. */
export interface SealedKindSpec<Claims> {
  readonly name: string;
  readonly contentType: string;
  readonly signatureInvalid: string;
  /** What a bad claim's refusal calls the message, `Cannot read <claimsIn>: …` (default `name`). */
  readonly claimsIn?: string;
  /** The claims in wire order, each with its rule. */
  readonly claims: ClaimRules<Claims>;
}

/**
 * A sealed kind from its declaration: its claims are read and checked by their rules, and the
 * JWE protected header carries them in the rules' order, `kid` aside (the JWE names it itself).
 */
export function sealedMessageKind<Claims>(spec: SealedKindSpec<Claims>): SealedMessageKind<Claims> {
  const what = spec.claimsIn ?? spec.name;
  return {
    name: spec.name,
    contentType: spec.contentType,
    signatureInvalid: spec.signatureInvalid,
    claimsOf: (header) => checkClaims(spec.claims, header, what),
    sealedHeader: (claims) => claimsInOrder(spec.claims, claims, false),
  };
}

/**
 * A signed kind from its declaration: as {@linkcode sealedMessageKind}, with its JWS `typ`, a JWE
 * `cty` that is always the `typ` with `+jws` (the JWE's plaintext is the compact JWS), and an
 * inner JWS header naming every claim, `kid` included, in the rules' order.
 *
 * @example
 * ```ts
 * import { signedMessageKind } from "./sealed_message.ts";
 * import { KEY_ID_OR_NULL, POSITIVE_INTEGER } from "./claim_rules.ts";
 * const kind = signedMessageKind({
 *   name: "note",
 *   type: "mle-note",
 *   signatureInvalid: "Cannot accept note: sender signature is not valid",
 *   claimNames: "computer id or key id",
 *   claims: { cid: POSITIVE_INTEGER, kid: KEY_ID_OR_NULL },
 * });
 * console.log(kind.contentType); // "mle-note+jws"
 * ```
 */
export function signedMessageKind<Claims extends SenderClaims, T extends string>(
  spec: Omit<SealedKindSpec<Claims>, "contentType"> & { type: T; claimNames: string },
): SignedMessageKind<Claims> & { readonly type: T; readonly contentType: `${T}+jws` } {
  const contentType = `${spec.type}+jws` as const;
  return {
    ...sealedMessageKind({ ...spec, contentType }),
    type: spec.type,
    contentType,
    claimNames: spec.claimNames,
    signedHeader: (claims) => claimsInOrder(spec.claims, claims, true),
  };
}

/** A sealed message read from the wire, before any verification. */
export interface ParsedSealedMessage<Claims> {
  message: SealedMessage;
  header: JweHeader;
  claims: Claims;
}

/** A signed kind's message read from the wire, sealed or clear, before any verification. */
export type ParsedSignedMessage<Claims> =
  | { kind: "encrypted"; message: SealedMessage; header: JweHeader; claims: Claims }
  | { kind: "clear"; message: FlattenedJws; header: JwsHeader; claims: Claims };

const encoder = new TextEncoder();

/**
 * Encrypts `plaintext` to the server key the content key is wrapped to, with the kind's `cty` and
 * claims in the protected header, and signs the result with the sender's key.
 */
export async function sealMessage<Claims>(
  kind: SealedMessageKind<Claims>,
  contentKey: ContentKey,
  senderPrivateKey: CryptoKey,
  claims: Claims,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<SealedMessage> {
  const jwe = await encryptJwe(
    contentKey,
    { cty: kind.contentType, ...kind.sealedHeader(claims) },
    plaintext,
  );
  return { ...jwe, sig: await signSenderSignature(senderPrivateKey, jwe) };
}

/**
 * Reads a sealed message's shape, `cty` and claims without verifying anything yet.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED`, or `ERR_DECRYPTION_FAILED` for header problems
 * (deliberately opaque).
 */
export function readSealedMessage<Claims>(
  kind: SealedMessageKind<Claims>,
  value: unknown,
): ParsedSealedMessage<Claims> {
  const { jwe, header } = readJweHeader(value);
  const sig = (value as { sig?: unknown }).sig;
  if (typeof sig !== "string") throw malformed(kind, 'member "sig" must be a string');
  if (header.cty !== kind.contentType) {
    throw malformed(kind, `expected cty "${kind.contentType}"`);
  }
  return { message: { ...jwe, sig }, header, claims: kind.claimsOf(header) };
}

/**
 * Verifies the sender's signature over a sealed message as it travelled. Needs no private key.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID` with the kind's message.
 */
export async function verifySealedMessage<Claims>(
  kind: SealedMessageKind<Claims>,
  senderPublicKey: CryptoKey,
  message: SealedMessage,
): Promise<void> {
  if (!(await verifySenderSignature(senderPublicKey, message, message.sig))) {
    throw new MleError("ERR_SIGNATURE_INVALID", kind.signatureInvalid);
  }
}

/**
 * Signs content as the kind's JWS bound to `claims` (the clear form, and the sealed plaintext).
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED` when a claim is out of range.
 * @example
 * ```ts
 * import { signMessage } from "./sealed_message.ts";
 * import { REPORT_MESSAGE } from "./report_message.ts";
 * import { generateSigningKeyPair } from "./signature.ts";
 * const client = await generateSigningKeyPair();
 * const jws = await signMessage(REPORT_MESSAGE, client.privateKey, { cid: 7, seq: 1, kid: null }, new Uint8Array([123, 125]));
 * console.log(typeof jws.signature); // "string"
 * ```
 */
export async function signMessage<Claims extends { kid: string | null }>(
  kind: SignedMessageKind<Claims>,
  senderPrivateKey: CryptoKey,
  claims: Claims,
  content: Uint8Array,
): Promise<FlattenedJws> {
  const checked = kind.claimsOf(claims as Record<string, unknown>);
  return await signJws(
    senderPrivateKey,
    { typ: kind.type, ...kind.signedHeader(checked) },
    content,
  );
}

/** Signs content as the kind's JWS naming the content key's id, then seals that JWS. */
export async function sealSignedMessage<Claims extends { kid: string | null }>(
  kind: SignedMessageKind<Claims>,
  contentKey: ContentKey,
  senderPrivateKey: CryptoKey,
  claims: Omit<Claims, "kid">,
  content: Uint8Array,
): Promise<SealedMessage> {
  const checked = kind.claimsOf({ ...claims, kid: contentKey.kid });
  const inner = await signMessage(kind, senderPrivateKey, checked, content);
  return await sealMessage(
    kind,
    contentKey,
    senderPrivateKey,
    checked,
    encoder.encode(toCompactJws(inner)),
  );
}

/**
 * Reads a signed kind's message, sealed or clear, without verifying anything yet. A clear one
 * must name no key id: the key id of a sealed one's inner JWS never passes as clear text.
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED`, or `ERR_DECRYPTION_FAILED` for JWE header problems.
 */
export function readSignedMessage<Claims extends { kid: string | null }>(
  kind: SignedMessageKind<Claims>,
  value: unknown,
): ParsedSignedMessage<Claims> {
  if (typeof value === "object" && value !== null && "ciphertext" in value) {
    return { kind: "encrypted", ...readSealedMessage(kind, value) };
  }
  const { jws, header } = readJwsHeader(value);
  if (header.typ !== kind.type) throw malformed(kind, `expected typ "${kind.type}"`);
  if (header.kid !== null) {
    throw malformed(kind, `a clear-text ${kind.name} names no key id`);
  }
  return { kind: "clear", message: jws, header, claims: kind.claimsOf(header) };
}

/**
 * Verifies the sender's signature over the message as it travels: the outer signature of a sealed
 * one, the JWS of a clear one. Needs no private key.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID`.
 */
export async function verifySignedMessage<Claims extends { kid: string | null }>(
  kind: SignedMessageKind<Claims>,
  senderPublicKey: CryptoKey,
  parsed: ParsedSignedMessage<Claims>,
): Promise<void> {
  if (parsed.kind === "clear") {
    await verifyJws(senderPublicKey, parsed.message, kind.type);
    return;
  }
  await verifySealedMessage(kind, senderPublicKey, parsed.message);
}

/**
 * Verifies a sealed message's inner JWS and that it names exactly the expected claims, then
 * returns the content.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID` when the signature or any claim does not match.
 */
export async function openInnerMessage<Claims extends { kid: string | null }>(
  kind: SignedMessageKind<Claims>,
  senderPublicKey: CryptoKey,
  signed: FlattenedJws | string,
  expected: Claims,
): Promise<Uint8Array<ArrayBuffer>> {
  const jws = typeof signed === "string" ? fromCompactJws(signed) : signed;
  const { header, payload } = await verifyJws(senderPublicKey, jws, kind.type);
  requireSameClaims(kind, header, expected);
  return payload;
}

/**
 * The inner JWS's content when it is the kind's and names exactly the expected claims, without
 * verifying its signature: for a receiver that already verified the outer signature, which binds
 * the sender to the whole plaintext, so verifying the inner one as well would prove the same thing
 * a second time.
 *
 * @throws {MleError} `ERR_SIGNATURE_INVALID` when the inner header names other claims or another
 * purpose or carries no signature, `ERR_ENVELOPE_MALFORMED` when it is not a compact JWS.
 */
export function readInnerMessageUnverified<Claims extends { kid: string | null }>(
  kind: SignedMessageKind<Claims>,
  compact: string,
  expected: Claims,
): Uint8Array<ArrayBuffer> {
  const { jws, header } = readJwsHeader(fromCompactJws(compact));
  if (header.typ !== kind.type) throw claimsDiffer(kind);
  requireSameClaims(kind, header, expected);
  let signature: Uint8Array;
  let payload: Uint8Array<ArrayBuffer>;
  try {
    signature = decodeBase64Url(jws.signature);
    payload = decodeBase64Url(jws.payload);
  } catch {
    throw malformed(kind, "bad base64url");
  }
  if (signature.length !== ED25519_SIGNATURE_LENGTH) {
    throw new MleError("ERR_SIGNATURE_INVALID", `Cannot accept ${kind.name}: no inner signature`);
  }
  return payload;
}

/**
 * Opens a signed kind's message whose outer signature was verified: decrypts a sealed one with the
 * unwrapped content key, verifies the inner JWS and its claims; a clear one's JWS is verified.
 *
 * @param contentKey the AES key of the sealed message; null stands for a failed unwrap, which
 * fails like any other decryption failure (ignored in clear).
 * @throws {MleError} `ERR_DECRYPTION_FAILED` (the same for every decryption failure) or
 * `ERR_SIGNATURE_INVALID`.
 */
export async function openSignedMessage<Claims extends { kid: string | null }>(
  kind: SignedMessageKind<Claims>,
  senderPublicKey: CryptoKey,
  parsed: ParsedSignedMessage<Claims>,
  contentKey: CryptoKey | null,
): Promise<Uint8Array<ArrayBuffer>> {
  if (parsed.kind === "clear") {
    return (await verifyJws(senderPublicKey, parsed.message, kind.type)).payload;
  }
  const inner = await decryptJwe(parsed.message, contentKey);
  let compact: string;
  try {
    compact = decodeUtf8(inner);
  } catch {
    throw new MleError("ERR_SIGNATURE_INVALID", kind.signatureInvalid);
  }
  return await openInnerMessage(kind, senderPublicKey, compact, parsed.claims);
}

/** A sealed kind's operations, bound to the kind: what its module exports under its own names. */
export interface SealedMessageCodec<Claims> {
  /** Encrypts and signs, as {@linkcode sealMessage} (claims checked first). */
  seal(
    contentKey: ContentKey,
    senderPrivateKey: CryptoKey,
    claims: Claims,
    plaintext: Uint8Array<ArrayBuffer>,
  ): Promise<SealedMessage>;
  /** Reads shape and claims, as {@linkcode readSealedMessage}. */
  read(value: unknown): ParsedSealedMessage<Claims>;
  /** Verifies the sender's signature, as {@linkcode verifySealedMessage}. */
  verify(senderPublicKey: CryptoKey, message: SealedMessage): Promise<void>;
}

/** Binds the sealed-message operations to one kind. */
export function sealedMessageCodec<Claims>(
  kind: SealedMessageKind<Claims>,
): SealedMessageCodec<Claims> {
  return {
    seal: async (contentKey, senderPrivateKey, claims, plaintext) => {
      const checked = kind.claimsOf({ ...claims } as Record<string, unknown>);
      return await sealMessage(kind, contentKey, senderPrivateKey, checked, plaintext);
    },
    read: (value) => readSealedMessage(kind, value),
    verify: (senderPublicKey, message) => verifySealedMessage(kind, senderPublicKey, message),
  };
}

/** A signed kind's operations, bound to the kind: what its module exports under its own names. */
export interface SignedMessageCodec<Claims extends { kid: string | null }> {
  /** Signs content bound to `claims`, as {@linkcode signMessage}. */
  sign(senderPrivateKey: CryptoKey, claims: Claims, content: Uint8Array): Promise<FlattenedJws>;
  /** Signs and seals, as {@linkcode sealSignedMessage}. */
  seal(
    contentKey: ContentKey,
    senderPrivateKey: CryptoKey,
    claims: Omit<Claims, "kid">,
    content: Uint8Array,
  ): Promise<SealedMessage>;
  /** Reads shape and claims, sealed or clear, as {@linkcode readSignedMessage}. */
  read(value: unknown): ParsedSignedMessage<Claims>;
  /** Verifies the signature as it travels, as {@linkcode verifySignedMessage}. */
  verify(senderPublicKey: CryptoKey, parsed: ParsedSignedMessage<Claims>): Promise<void>;
  /** Verifies the inner JWS and its claims, as {@linkcode openInnerMessage}. */
  openInner(
    senderPublicKey: CryptoKey,
    signed: FlattenedJws | string,
    expected: Claims,
  ): Promise<Uint8Array<ArrayBuffer>>;
  /** Decrypts and verifies, as {@linkcode openSignedMessage}. */
  open(
    senderPublicKey: CryptoKey,
    parsed: ParsedSignedMessage<Claims>,
    contentKey: CryptoKey | null,
  ): Promise<Uint8Array<ArrayBuffer>>;
}

/** Binds the signed-message operations to one kind. */
export function signedMessageCodec<Claims extends { kid: string | null }>(
  kind: SignedMessageKind<Claims>,
): SignedMessageCodec<Claims> {
  return {
    sign: (senderPrivateKey, claims, content) =>
      signMessage(kind, senderPrivateKey, claims, content),
    seal: (contentKey, senderPrivateKey, claims, content) =>
      sealSignedMessage(kind, contentKey, senderPrivateKey, claims, content),
    read: (value) => readSignedMessage(kind, value),
    verify: (senderPublicKey, parsed) => verifySignedMessage(kind, senderPublicKey, parsed),
    openInner: (senderPublicKey, signed, expected) =>
      openInnerMessage(kind, senderPublicKey, signed, expected),
    open: (senderPublicKey, parsed, contentKey) =>
      openSignedMessage(kind, senderPublicKey, parsed, contentKey),
  };
}

function requireSameClaims<Claims extends { kid: string | null }>(
  kind: SignedMessageKind<Claims>,
  header: JwsHeader,
  expected: Claims,
): void {
  for (const [name, value] of Object.entries(kind.signedHeader(expected))) {
    if (header[name] !== value) throw claimsDiffer(kind);
  }
}

function claimsDiffer(kind: { name: string; claimNames: string }): MleError {
  return new MleError(
    "ERR_SIGNATURE_INVALID",
    `Cannot accept ${kind.name}: its signed ${kind.claimNames} differ from the envelope's`,
  );
}

function malformed(kind: { name: string }, detail: string): MleError {
  return new MleError("ERR_ENVELOPE_MALFORMED", `Cannot read ${kind.name}: ${detail}`);
}
