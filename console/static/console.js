// Live parts of the console: the server streams fragments rendered as on
// the page (terminals' rows and screens, an order's facts and timeline,
// the orders list's rows), and each replaces the element with the same
// id. Nothing else runs here.
"use strict";
(function () {
  const live = document.querySelector("[data-live]");
  if (!live) return;
  const swap = (ev) => {
    const tpl = document.createElement("template");
    tpl.innerHTML = ev.data;
    const fresh = tpl.content.firstElementChild;
    if (!fresh) return;
    const old = document.getElementById(fresh.id);
    if (old) old.replaceWith(fresh);
  };
  const es = new EventSource(live.dataset.src || "/console/events");
  for (const name of ["row", "screen", "facts", "timeline", "orderrows"]) es.addEventListener(name, swap);
  es.addEventListener("open", () => document.body.dataset.live = "open");
})();
