// Leger web UI: the little JavaScript the pages use. Everything works without it except
// Show (which fetches one value on demand) and Copy; with it, Save buttons are enabled only
// when their section changed.
"use strict";

(function () {
  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };
  const announce = (text) => {
    const live = document.getElementById("live");
    if (live) {
      live.textContent = "";
      window.setTimeout(() => { live.textContent = text; }, 30);
    }
  };

  // --- Save enabled only when the section changed -------------------------------------
  const fieldsOf = (form) =>
    Array.from(form.elements).filter(
      (el) => (el.tagName === "INPUT" || el.tagName === "TEXTAREA") &&
        el.type !== "hidden" && el.name && !el.readOnly
    );
  const initial = (el) => (el.dataset.initial !== undefined ? el.dataset.initial : el.defaultValue);
  const refresh = (form) => {
    const dirty = fieldsOf(form).some((el) => el.value !== initial(el));
    form.querySelectorAll("[data-save]").forEach((btn) => { btn.disabled = !dirty; });
  };
  document.querySelectorAll("form[data-dirty-form]").forEach((form) => {
    // A form re-shown with an error keeps its Save enabled: what was typed is still unsaved.
    const hasError = form.closest("section") && form.closest("section").querySelector('[role="alert"]');
    if (hasError) return;
    refresh(form);
    form.addEventListener("input", () => refresh(form));
    form.addEventListener("change", () => refresh(form));
  });

  // --- Show / hide a value -------------------------------------------------------------
  const setShown = (btn, shown) => {
    btn.setAttribute("aria-pressed", shown ? "true" : "false");
    btn.textContent = shown ? "Hide" : "Show";
    const label = btn.getAttribute("aria-label");
    if (label) btn.setAttribute("aria-label", label.replace(/^(Show|Hide)/, shown ? "Hide" : "Show"));
  };
  const fetchValue = async (name) => {
    const body = new URLSearchParams({ name: name });
    const resp = await fetch("/api-keys/reveal", {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/x-www-form-urlencoded" },
      body: body,
    });
    const data = await resp.json().catch(() => null);
    if (!resp.ok || !data || !data.success) {
      throw new Error(data && data.error ? data.error.message : "could not load the value");
    }
    return data.data.value;
  };
  document.querySelectorAll("[data-reveal]").forEach((btn) => {
    btn.addEventListener("click", async () => {
      const target = document.getElementById(btn.dataset.target);
      if (!target) return;
      const shown = btn.getAttribute("aria-pressed") === "true";
      const isInput = target.tagName === "INPUT";
      if (shown) {
        // Hide: a fetched value leaves the page; a typed one is only masked again.
        if (isInput) {
          if (target.dataset.revealed === "1" && target.value === target.dataset.initial) {
            target.value = "";
            delete target.dataset.initial;
          }
          delete target.dataset.revealed;
          target.type = "password";
          if (target.form) refresh(target.form);
        } else {
          target.textContent = "••••••••";
        }
        setShown(btn, false);
        return;
      }
      const wantsStored = btn.dataset.saved === "1" && (!isInput || target.value === "");
      if (wantsStored) {
        btn.disabled = true;
        try {
          const value = await fetchValue(btn.dataset.reveal);
          if (isInput) {
            target.value = value;
            target.dataset.initial = value; // shown, not changed: Save stays off
            target.dataset.revealed = "1";
          } else {
            target.textContent = value;
          }
        } catch (err) {
          announce("Could not show the value: " + err.message);
          return;
        } finally {
          btn.disabled = false;
        }
      }
      if (isInput) target.type = "text";
      setShown(btn, true);
    });
  });

  // --- Copy to the clipboard -----------------------------------------------------------
  const copyText = async (text) => {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch (e) { /* fall back */ }
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  };
  document.querySelectorAll("[data-copy]").forEach((btn) => {
    btn.addEventListener("click", async () => {
      const text = btn.dataset.copy;
      const ok = await copyText(text);
      const before = btn.textContent;
      btn.textContent = ok ? "Copied" : "Copy failed";
      announce(ok ? "Copied: " + text : "Could not copy; select the text instead.");
      window.setTimeout(() => { btn.textContent = before; }, 1500);
    });
  });

  // --- Confirm destructive buttons -----------------------------------------------------
  document.querySelectorAll("[data-confirm]").forEach((btn) => {
    btn.addEventListener("click", (event) => {
      if (!window.confirm(btn.dataset.confirm)) event.preventDefault();
    });
  });

  // --- Character counters ---------------------------------------------------------------
  document.querySelectorAll("[data-count]").forEach((input) => {
    const out = document.getElementById(input.dataset.count);
    const max = input.maxLength;
    const update = () => { if (out) out.textContent = input.value.length + "/" + max + " characters"; };
    input.addEventListener("input", update);
    update();
  });

  // --- A form shown again with errors: start at the list of what to fix ----------------
  const summary = document.getElementById("form-errors");
  if (summary) summary.focus();

  // --- Flash messages: shown once, not again on reload ---------------------------------
  if (document.querySelector("[data-flash]") && window.history.replaceState) {
    const url = new URL(window.location.href);
    ["saved", "deleted", "logged_out"].forEach((k) => url.searchParams.delete(k));
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
})();
