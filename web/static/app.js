// Progressive help for the pages (they work without it): search the procedure catalogue
// ignoring Vietnamese diacritics, so that "ly lich tu phap" finds "lý lịch tư pháp".
"use strict";

function fold(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const list = document.getElementById(input.dataset.filter);
    if (!list) continue;
    input.addEventListener("input", () => {
      const words = fold(input.value).split(/\s+/).filter(Boolean);
      for (const item of list.querySelectorAll("li[data-text]")) {
        const text = fold(item.dataset.text);
        item.hidden = !words.every((w) => text.includes(w));
      }
    });
    // Enter (a phone's Go key) in the search box searches: it must not submit the whole form
    // with half its choices made. With one match left, it moves to that match's checkbox.
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      const shown = list.querySelectorAll("li[data-text]:not([hidden]) input");
      if (shown.length === 1) shown[0].focus();
    });
  }
});

// The activity page: each entry checked against the public signed checkpoint, in this browser.
// The checkpoint's ES256 signature is verified with the service's JWKS (WebCrypto), then the
// entry's RFC 9162 inclusion proof is recomputed with SHA-256 up to the signed root.
const hex = (s) => Uint8Array.from(s.match(/../g) || [], (b) => parseInt(b, 16));
const b64url = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
const join = (a, b, c) => { const out = new Uint8Array(a.length + b.length + c.length); out.set(a); out.set(b, a.length); out.set(c, a.length + b.length); return out; };
const node = (left, right) => sha256(join(new Uint8Array([1]), left, right));
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function signedCheckpoint() {
  const [jwks, latest] = await Promise.all([
    fetch("/.well-known/jwks.json").then((r) => r.json()),
    fetch("/v1/audit/checkpoint").then((r) => r.json()),
  ]);
  const [h, p, s] = latest.checkpoint.split(".");
  const header = JSON.parse(new TextDecoder().decode(b64url(h)));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk || header.alg !== "ES256" || header.typ !== "checkpoint+jwt") throw new Error("unknown key");
  const key = await crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, b64url(s), new TextEncoder().encode(`${h}.${p}`));
  if (!ok) throw new Error("bad checkpoint signature");
  return JSON.parse(new TextDecoder().decode(b64url(p)));
}

// RFC 9162 2.1.3.2
async function included(leaf, index, size, path, root) {
  if (index >= size) return false;
  let fn = index, sn = size - 1, r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await node(p, r);
      while (fn % 2 === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else {
      r = await node(r, p);
    }
    fn >>= 1; sn >>= 1;
  }
  return sn === 0 && same(r, root);
}

document.addEventListener("DOMContentLoaded", () => {
  const messages = document.getElementById("messages");
  if (!messages) return;
  let checkpoint = null;
  for (const button of document.querySelectorAll("li.event button.check")) {
    button.addEventListener("click", async () => {
      const item = button.closest("li.event");
      const verdict = item.querySelector(".verdict");
      verdict.textContent = messages.dataset.busy;
      verdict.className = "verdict";
      try {
        checkpoint = checkpoint || await signedCheckpoint();
        const seq = Number(item.dataset.seq);
        const proof = await fetch(`/v1/audit/proofs/inclusion?seq=${seq}&size=${checkpoint.tree_size}`).then((r) => r.json());
        const ok = proof.leaf_hash === item.dataset.leaf &&
          await included(hex(item.dataset.leaf), seq, checkpoint.tree_size, proof.audit_path.map(hex), hex(checkpoint.root_hash));
        verdict.textContent = ok ? messages.dataset.ok : messages.dataset.bad;
        verdict.className = ok ? "verdict ok" : "verdict bad";
      } catch (error) {
        verdict.textContent = messages.dataset.bad;
        verdict.className = "verdict bad";
      }
    });
  }
});

// The counter's request screen: it follows the request by itself (a poll every half second
// while the screen is visible) and shows the new state the moment the citizen decides: the
// status line (a live region, so a screen reader says it) changes in place, the QR code goes,
// and after an approval the way to file a dossier appears.
const POLL_MS = 500;
document.addEventListener("DOMContentLoaded", () => {
  const screen = document.querySelector("[data-poll]");
  if (!screen || screen.dataset.status !== "pending") return;
  const status = document.getElementById("request-status");
  const show = (now) => {
    status.textContent = status.getAttribute(`data-label-${now.status}`) || now.status;
    status.className = `status status-${now.status}`;
    screen.dataset.status = now.status;
    for (const id of ["while-pending", "cancel-form"]) {
      const element = document.getElementById(id);
      if (element) element.hidden = true;
    }
    const file = document.getElementById("file-now");
    if (now.status === "approved" && now.delegation_id && file) {
      file.href = `/counter/delegations/${encodeURIComponent(now.delegation_id)}`;
      file.parentElement.hidden = false;
    }
  };
  const poll = async () => {
    if (!document.hidden) {
      try {
        const r = await fetch(screen.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (r.ok) {
          const now = await r.json();
          if (now.status !== "pending") { show(now); return; }
        }
      } catch (error) { /* offline for a moment: the next poll tries again */ }
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
});

// Filing a dossier: one more field row on demand; a form marked data-once is sent once (its
// idempotency key, made by the page, makes a resend harmless anyway).
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-add-row]")) {
    button.addEventListener("click", () => {
      const rows = document.getElementById(button.dataset.addRow);
      const last = rows.querySelector(".field-row:last-of-type");
      const n = rows.querySelectorAll(".field-row").length;
      const copy = last.cloneNode(true);
      for (const input of copy.querySelectorAll("input")) {
        input.value = "";
        input.id = input.id.replace(/\d+$/, String(n));
      }
      for (const label of copy.querySelectorAll("label")) {
        label.htmlFor = label.htmlFor.replace(/\d+$/, String(n));
        label.textContent = label.textContent.replace(/\d+/, String(n + 1));
      }
      rows.appendChild(copy);
      copy.querySelector("input").focus();
    });
  }
  for (const form of document.querySelectorAll("form[data-once]")) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
    });
  }
  for (const button of document.querySelectorAll("[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
});

// The verify page: a scanned receipt or authorization QR code opens /verify#receipt=<token>;
// the token stays in the fragment (never in a server log) until the form posts it.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("verify-form");
  const match = location.hash.match(/^#(receipt|token)=([A-Za-z0-9_.-]+)$/);
  if (!form || !match) return;
  form.querySelector("textarea").value = match[2];
  history.replaceState(null, "", location.pathname + location.search);
  form.submit();
});

// The verify page can scan a QR code itself where the browser has a QR decoder
// (BarcodeDetector: Chrome on Android, ChromeOS, macOS) and a camera; elsewhere the button stays
// hidden and the phone's own camera app opens /verify#receipt=... (above), or one pastes.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function tokenFromQr(text) {
  const fragment = text.match(/#(?:receipt|token)=([A-Za-z0-9_.-]+)$/);
  if (fragment) return fragment[1];
  return COMPACT_JWS.test(text.trim()) ? text.trim() : null;
}

document.addEventListener("DOMContentLoaded", () => {
  const scan = document.getElementById("scan");
  const form = document.getElementById("verify-form");
  if (!scan || !form || !("BarcodeDetector" in window) || !navigator.mediaDevices?.getUserMedia) return;
  scan.hidden = false;
  const video = document.getElementById("scan-video");
  const status = document.getElementById("scan-status");
  document.getElementById("scan-start").addEventListener("click", async () => {
    let stream;
    try {
      const detector = new BarcodeDetector({ formats: ["qr_code"] });
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      status.textContent = scan.dataset.hold;
      for (;;) {
        const codes = await detector.detect(video);
        const token = codes.length ? tokenFromQr(codes[0].rawValue) : null;
        if (token) {
          form.querySelector("textarea").value = token;
          form.submit();
          return;
        }
        if (codes.length) status.textContent = scan.dataset.otherCode;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } catch (error) {
      status.textContent = scan.dataset.noCamera;
    } finally {
      if (stream) for (const track of stream.getTracks()) track.stop();
    }
  });
});

// A form marked data-draft keeps what was typed in this tab (sessionStorage: this tab only,
// gone when it closes) so that a session that ends while it is open loses nothing: after the
// new login the page comes back marked data-resume and the draft is put back. The draft ends
// on the page that shows what the form made (data-draft-done).
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-draft]")) {
    const key = "draft:" + form.dataset.draft;
    const save = () => {
      const values = [];
      for (const [name, value] of new FormData(form)) {
        if (name !== "csrf_token" && typeof value === "string") values.push([name, value]);
      }
      try { sessionStorage.setItem(key, JSON.stringify(values)); } catch (e) { /* private mode */ }
    };
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(key) || "null"); } catch (e) { saved = null; }
    if (form.hasAttribute("data-resume") && Array.isArray(saved)) {
      const given = new Map();
      for (const [name, value] of saved) {
        if (!given.has(name)) given.set(name, []);
        given.get(name).push(value);
      }
      for (const field of form.elements) {
        if (!field.name || field.name === "csrf_token" || !given.has(field.name)) continue;
        const values = given.get(field.name);
        if (field.type === "checkbox" || field.type === "radio") field.checked = values.includes(field.value);
        else field.value = values[0];
      }
    }
  }
  // the page that shows what the form made (the signed authorization) ends its draft
  for (const done of document.querySelectorAll("[data-draft-done]")) {
    try { sessionStorage.removeItem("draft:" + done.dataset.draftDone); } catch (e) { /* private mode */ }
  }
});
