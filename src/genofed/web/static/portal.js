// genofed portal: live counts, OncoTree search, PNG downloads. Plain JavaScript, no libraries.
"use strict";

(function () {
  const COHORT_FIELDS = ["tumour_type", "sex", "age_min", "age_max", "gene", "protein_change", "consequence"];

  function debounce(fn, ms) {
    let timer = null;
    return function (...args) { clearTimeout(timer); timer = setTimeout(() => fn.apply(this, args), ms); };
  }

  function cohortQuery(form) {
    const params = new URLSearchParams();
    for (const name of COHORT_FIELDS) {
      const field = form.elements.namedItem(name);
      if (field && field.value.trim() !== "") params.set(name, field.value.trim());
    }
    return params;
  }

  // Keep the navigation's links on the cohort being built, so every view opens on it.
  function updateLinks(params) {
    for (const link of document.querySelectorAll("a[data-cohort-link]")) {
      const url = new URL(link.href, window.location.href);
      url.search = params.toString();
      link.href = url.pathname + url.search;
    }
    for (const link of document.querySelectorAll(".export a")) {
      const url = new URL(link.href, window.location.href);
      url.search = params.toString();
      link.href = url.pathname + url.search;
    }
  }

  let generation = 0;
  async function refreshCounts(form) {
    const target = document.getElementById("counts");
    if (!target) return;
    const params = cohortQuery(form);
    const mine = ++generation;
    target.setAttribute("aria-busy", "true");
    try {
      const response = await fetch("/fragments/counts?" + params.toString(), { headers: { Accept: "text/html" } });
      const html = await response.text();
      if (mine !== generation) return; // a newer request has been sent since
      target.innerHTML = html;
      history.replaceState(null, "", "/?" + params.toString());
      updateLinks(params);
    } catch (err) {
      if (mine === generation) target.innerHTML = '<p class="error" role="alert">The portal could not be reached: ' + String(err) + "</p>";
    } finally {
      if (mine === generation) target.setAttribute("aria-busy", "false");
    }
  }

  function setupBuilder() {
    const form = document.getElementById("cohort-form");
    if (!form) return;
    // Count on "change" (a field left, Enter pressed, an option picked), not on every keystroke: each
    // count is a question every node answers, logs and remembers for its differencing guard, so
    // half-typed genes ("KR", "KRA") must not be asked.
    const refresh = debounce(() => refreshCounts(form), 150);
    form.addEventListener("change", (event) => { if (event.target.id !== "tumour-search") refresh(); });
    form.addEventListener("submit", (event) => { event.preventDefault(); refreshCounts(form); });

    const search = document.getElementById("tumour-search");
    const results = document.getElementById("tumour-results");
    const code = document.getElementById("tumour_type");
    const label = document.getElementById("tumour-label");
    const find = debounce(async () => {
      const q = search.value.trim();
      if (!q) { results.innerHTML = ""; return; }
      const response = await fetch("/fragments/oncotree?q=" + encodeURIComponent(q));
      results.innerHTML = await response.text();
    }, 200);
    search.addEventListener("input", find);
    function choose(event) {
      const button = event.target.closest("button[data-code]");
      if (!button) return;
      code.value = button.dataset.code;
      label.textContent = button.dataset.label;
      results.innerHTML = "";
      search.value = "";
      code.focus();
      refreshCounts(form);
    }
    results.addEventListener("click", choose);
    const tree = document.getElementById("tumour-tree");
    if (tree) {
      tree.addEventListener("click", async (event) => {
        const toggle = event.target.closest("button[data-parent]");
        if (!toggle) { choose(event); return; }
        const item = toggle.closest("li");
        const open = item.querySelector(":scope > .subtree");
        if (open) {
          open.remove();
          toggle.setAttribute("aria-expanded", "false");
          return;
        }
        const response = await fetch("/fragments/oncotree?parent=" + encodeURIComponent(toggle.dataset.parent));
        const box = document.createElement("div");
        box.className = "subtree";
        box.innerHTML = await response.text();
        item.appendChild(box);
        toggle.setAttribute("aria-expanded", "true");
      });
    }
    code.addEventListener("input", () => { label.textContent = ""; });
  }

  // Rasterise an inline SVG chart to PNG in the browser (no server-side renderer needed).
  function setupPng() {
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-png]");
      if (!button) return;
      const svg = document.querySelector("#" + button.dataset.png + " svg");
      if (!svg) return;
      const box = svg.viewBox.baseVal;
      const scale = 2;
      const data = new XMLSerializer().serializeToString(svg);
      const image = new Image();
      image.onload = () => {
        const canvas = document.createElement("canvas");
        canvas.width = box.width * scale;
        canvas.height = box.height * scale;
        const context = canvas.getContext("2d");
        context.fillStyle = "#fff";
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.drawImage(image, 0, 0, canvas.width, canvas.height);
        canvas.toBlob((blob) => {
          const link = document.createElement("a");
          link.href = URL.createObjectURL(blob);
          link.download = button.dataset.filename || "chart.png";
          document.body.appendChild(link);
          link.click();
          link.remove();
          setTimeout(() => URL.revokeObjectURL(link.href), 1000);
        }, "image/png");
      };
      image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(data);
    });
  }

  document.addEventListener("DOMContentLoaded", () => { setupBuilder(); setupPng(); });
})();
