// The console's only script: SLA countdowns, keyboard navigation of the queue, select-all.
// It reads text with textContent and writes with textContent only; it never builds HTML.
"use strict";

(function () {
  function fmt(seconds) {
    var sign = seconds < 0 ? "-" : "";
    var s = Math.floor(Math.abs(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), r = s % 60;
    if (d) return sign + d + "d " + h + "h";
    if (h) return sign + h + "h " + String(m).padStart(2, "0") + "m";
    return sign + m + "m " + String(r).padStart(2, "0") + "s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".sla[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      var left = el.querySelector(".left");
      if (isNaN(due) || !left) return;
      var seconds = (due - now) / 1000;
      left.textContent = fmt(seconds);
      if (seconds < 0) el.classList.add("breached");
    });
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue tr.row"));
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || (target && target.isContentEditable);
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var list = rows();
    if (!list.length) return;
    var here = list.indexOf(document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("tr.row") : null);
    if (event.key === "/" && !typing(event.target)) {
      var q = document.getElementById("f-q");
      if (q) { event.preventDefault(); q.focus(); }
      return;
    }
    if (typing(event.target) && event.target.type !== "checkbox") return;
    if (event.key === "j" || event.key === "ArrowDown") {
      event.preventDefault();
      list[Math.min(here + 1, list.length - 1)].focus();
    } else if (event.key === "k" || event.key === "ArrowUp") {
      event.preventDefault();
      list[Math.max(here - 1, 0)].focus();
    } else if (event.key === "Enter" && here >= 0 && event.target === list[here]) {
      event.preventDefault();
      window.location.assign(list[here].getAttribute("data-href"));
    } else if (event.key === "x" && here >= 0) {
      var box = list[here].querySelector("input[type=checkbox]");
      if (box) { event.preventDefault(); box.checked = !box.checked; }
    }
  }

  function selectAll() {
    var all = document.getElementById("select-all");
    if (!all) return;
    all.addEventListener("change", function () {
      document.querySelectorAll("#queue input[name=ids]").forEach(function (box) { box.checked = all.checked; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    if (document.querySelector(".sla[data-due]")) window.setInterval(tick, 1000);
    if (document.getElementById("queue")) document.addEventListener("keydown", onKey);
    selectAll();
  });
})();
