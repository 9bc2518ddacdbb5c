// dmo-pipeline dashboard: live job events from the WebSocket; panels re-read when they come.
// Written for this page (no library): the events WebSocket authenticates with the login
// cookie; after a drop it reconnects with the last event id it saw, so nothing is missed.
"use strict";
(function () {
  const main = document.querySelector("main");
  const live = document.getElementById("live");
  const status = document.getElementById("live-status");
  let lastId = Number(main.dataset.lastEventId || 0);
  let wait = 500;
  let refreshing = null;
  const KEEP = 50;

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "-" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  function show(event) {
    let row = live.querySelector('tr[data-job="' + event.job_id + '"]');
    if (!row) {
      row = document.createElement("tr");
      row.dataset.job = String(event.job_id);
    } else {
      row.textContent = "";
    }
    row.dataset.state = event.state;
    cell(row, event.id);
    cell(row, event.job_id);
    cell(row, event.type);
    cell(row, event.source);
    cell(row, event.dmo);
    cell(row, event.attempt);
    cell(row, event.state.replace("_", " "), "state " + event.state);
    cell(row, event.duration_ms);
    cell(row, (event.at || "").replace("T", " ").slice(0, 19));
    live.insertBefore(row, live.firstChild);
    while (live.children.length > KEEP) live.removeChild(live.lastChild);
  }

  async function refresh() {
    refreshing = null;
    try {
      const answer = await fetch("/dashboard/panels", { credentials: "same-origin" });
      if (!answer.ok) return;
      const panels = await answer.json();
      for (const [id, html] of Object.entries(panels)) {
        const panel = document.getElementById(id);
        if (panel) panel.innerHTML = html;
      }
      main.dataset.refreshedAfter = String(lastId);
    } catch (e) {
      /* the next event tries again */
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(
      scheme + "//" + location.host + "/api/v1/pipeline/events?last_event_id=" + lastId
    );
    socket.onopen = function () {
      status.textContent = "live";
      status.className = "status live";
      wait = 500;
    };
    socket.onmessage = function (message) {
      const event = JSON.parse(message.data);
      if (event.kind !== "job") return;
      lastId = event.id;
      show(event);
      if (!refreshing) refreshing = setTimeout(refresh, 300);
    };
    socket.onclose = function (closed) {
      status.textContent = closed.code >= 4400 && closed.code < 4500 ? closed.reason : "reconnecting…";
      status.className = "status down";
      if (closed.code === 4401 || closed.code === 4403) return;
      setTimeout(connect, wait);
      wait = Math.min(wait * 2, 15000);
    };
  }

  connect();
})();
