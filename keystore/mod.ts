/**
 * Key files on disk: the site key, the `Encryption Keys` folder, the client's KeyStorage, and the
 * secure file primitives under them.
 *
 * @module
 */

export * from "./default_paths.ts";
export * from "./encryption_keys.ts";
export * from "./key_storage.ts";
export * from "./password_seal.ts";
export * from "./secure_file.ts";
export * from "./site_key.ts";
