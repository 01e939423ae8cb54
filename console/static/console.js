// Live parts of the console: the server streams terminals' rows and
// screens, rendered as on the page, and they replace the elements with
// the same id. Nothing else runs here.
"use strict";
(function () {
  if (!document.querySelector("[data-live]")) return;
  const swap = (ev) => {
    const tpl = document.createElement("template");
    tpl.innerHTML = ev.data;
    const fresh = tpl.content.firstElementChild;
    if (!fresh) return;
    const old = document.getElementById(fresh.id);
    if (old) old.replaceWith(fresh);
  };
  const es = new EventSource("/console/events");
  es.addEventListener("row", swap);
  es.addEventListener("screen", swap);
  es.addEventListener("open", () => document.body.dataset.live = "open");
})();
