/**
 * The envelope and key code shared by every role: pure Web Crypto and bytes, no files, no HTTP.
 *
 * @module
 */

export * from "./base64url.ts";
export * from "./content_key_policy.ts";
export * from "./encryption_key.ts";
export * from "./errors.ts";
export * from "./jwe.ts";
export * from "./jws.ts";
export * from "./pem.ts";
export * from "./report_message.ts";
export * from "./sealed_message.ts";
export * from "./signature.ts";
export * from "./signed_document.ts";
