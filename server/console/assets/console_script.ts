/**
 * The console's one script, served as `/assets/console.js` (a string module, so `deno compile`
 * embeds it and nothing is fetched from the internet). It makes the signing forms work: it reads
 * the operator's `license.pvk` from the file picker, opens it with the password inside the browser
 * (PBKDF2-SHA256 + AES-256-GCM with the same authenticated parameters as
 * `keystore/password_seal.ts`), checks it is this site's key, signs the decision as a JWS
 * (EdDSA, the same `typ` and layout as `envelope/jws.ts`) and posts only the signed document. The
 * password and the key never leave the page: the form's fields have no names, so even without the
 * script nothing of them is submitted.
 *
 * @module
 */

/** The script's text. */
export const CONSOLE_SCRIPT = `"use strict";
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
  const enc = new TextEncoder();
  const b64u = (buffer) => {
    let text = "";
    for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
    return btoa(text).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  };
  const fromB64u = (value) => {
    const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  };

  async function openSiteKey(file, password) {
    const text = await file.text();
    const line = text.split("\\n").find((l) => l.trimStart().startsWith("{"));
    let sealed;
    try {
      sealed = JSON.parse(line ?? "");
    } catch {
      throw new Error("This file is not a site key (license.pvk)");
    }
    if (sealed?.format !== "mle-site-key/1" || sealed.kdf?.name !== "PBKDF2" ||
        sealed.kdf.hash !== "SHA-256" || sealed.cipher?.name !== "AES-256-GCM" ||
        !(sealed.kdf.iterations >= 600000 && sealed.kdf.iterations <= 100000000)) {
      throw new Error("This file is not a site key (license.pvk)");
    }
    const material = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false,
      ["deriveKey"]);
    const key = await crypto.subtle.deriveKey(
      { name: "PBKDF2", hash: "SHA-256", salt: fromB64u(sealed.kdf.salt),
        iterations: sealed.kdf.iterations },
      material, { name: "AES-GCM", length: 256 }, false, ["decrypt"]);
    const additionalData = enc.encode(JSON.stringify([sealed.format, sealed.kdf.name,
      sealed.kdf.hash, sealed.kdf.iterations, sealed.kdf.salt, sealed.cipher.name, sealed.cipher.iv,
      sealed.publicData]));
    let pkcs8;
    try {
      pkcs8 = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: fromB64u(sealed.cipher.iv), additionalData }, key,
        fromB64u(sealed.ciphertext));
    } catch {
      throw new Error("Wrong password, or the key file was altered");
    }
    try {
      const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false,
        ["sign"]);
      return { privateKey, publicKey: sealed.publicData };
    } finally {
      new Uint8Array(pkcs8).fill(0);
    }
  }

  async function signDocument(privateKey, typ, body) {
    const header = b64u(enc.encode(JSON.stringify({ typ, alg: "EdDSA" })));
    const payload = b64u(enc.encode(JSON.stringify(body)));
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, privateKey,
      enc.encode(header + "." + payload));
    return { protected: header, payload, signature: b64u(signature) };
  }

  async function call(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = answer.error ?? {};
      throw new Error((error.code ? error.code + ": " : "") + (error.message ?? response.status));
    }
    return answer;
  }

  async function decide(form) {
    if (!globalThis.crypto?.subtle) {
      throw new Error("Signing needs a secure page: open the console over HTTPS " +
        "(--console-tls-cert) or on the server host itself (http://127.0.0.1)");
    }
    const file = form.querySelector("input[type=file]").files[0];
    const password = form.querySelector("input[type=password]").value;
    if (!file) throw new Error("Choose the site key file (license.pvk) first");
    if (!password) throw new Error("Type the site key's password first");
    const site = await openSiteKey(file, password);
    if (site.publicKey !== document.body.dataset.siteKey) {
      throw new Error("This license.pvk is not this site's key");
    }
    const kind = form.dataset.kind;
    const target = form.dataset.computer;
    let typ, body;
    if (kind === "revocations") {
      typ = "mle-revocations";
      body = await call("GET", "/decisions/revocations/draft?computer=" + encodeURIComponent(target));
    } else if (kind === "settings") {
      typ = "mle-settings";
      const name = form.querySelector("[data-setting]").dataset.setting;
      const value = form.querySelector("[data-setting]").value;
      body = { computers: target === "all" ? "all" : [Number(target)], settings: { [name]: value },
        issuedAt: Date.now(), id: crypto.randomUUID() };
    } else if (kind === "computer") {
      typ = "mle-computer-decision";
      body = await call("GET", "/decisions/computer/draft?action=" +
        encodeURIComponent(form.dataset.action) + "&computer=" + encodeURIComponent(target));
    } else {
      throw new Error("Unknown decision");
    }
    const signed = await signDocument(site.privateKey, typ, body);
    return await call("POST", "/decisions/" + kind, { document: signed });
  }

  for (const form of document.querySelectorAll("form.sign-decision")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const status = form.querySelector(".decision-result");
      const button = form.querySelector("button");
      button.disabled = true;
      status.textContent = "Signing in this browser…";
      status.className = "decision-result";
      decide(form).then((answer) => {
        status.textContent = answer.message;
        status.className = "decision-result ok";
      }, (error) => {
        status.textContent = error.message;
        status.className = "decision-result failed";
      }).finally(() => {
        button.disabled = false;
        form.querySelector("input[type=password]").value = "";
      });
    });
  }
})();
`;
