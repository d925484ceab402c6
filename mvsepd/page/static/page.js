// mvsepd's page: live updates by long-poll, the models filter, the folder picker, forms that
// update as their choices change. Hand-written, no framework, nothing from elsewhere. Every
// change is still an ordinary form post, so the page works with the keyboard and without
// this script (only the picker and the live updates need it).
"use strict";

(function () {
  const connection = document.getElementById("connection");

  function say(words) {
    if (connection) connection.textContent = words;
  }

  // --- notifications: one per take, when all its stems are placed (the daemon says which
  // takes are done with every live answer). Takes done before the page opened are not
  // announced; the tag makes two open tabs show one notification, not two.
  let knownTakes = null;
  function announce(takes) {
    if (!Array.isArray(takes)) return;
    if (knownTakes === null) {
      knownTakes = new Set(takes.map(function (take) { return take.id; }));
      return;
    }
    for (const take of takes) {
      if (knownTakes.has(take.id)) continue;
      knownTakes.add(take.id);
      if (!("Notification" in window) || Notification.permission !== "granted") continue;
      const results = take.results > 1 ? " (" + take.results + " results)" : "";
      const notice = new Notification("Stems ready", {
        body: take.file + ": stems ready" + results,
        tag: "mvsepd-take-" + take.id,
        icon: "/static/icon.svg",
      });
      notice.onclick = function () {
        window.focus();
        window.location.href = "/takes/" + take.id;
        notice.close();
      };
    }
  }

  const askToNotify = document.getElementById("notify-me");
  if (askToNotify && "Notification" in window && Notification.permission === "default") {
    askToNotify.hidden = false;
    askToNotify.addEventListener("click", async function () {
      await Notification.requestPermission();
      askToNotify.hidden = true;
    });
  }

  // --- live parts: one request open at a time; the daemon answers when something changed
  // (or after 25 s anyway), so a page left open costs a request every 25 s at rest.
  function follow(section) {
    const view = section.dataset.live;
    const query = section.dataset.query ? "&" + section.dataset.query : "";
    let version = section.dataset.version || "";
    // What was last shown: an upload's progress changes it without a new version.
    let shown = null;
    async function step() {
      let wait = 0;
      try {
        const answer = await fetch(
          "/live?view=" + encodeURIComponent(view) + "&since=" + encodeURIComponent(version) + query,
          { credentials: "same-origin", cache: "no-store" }
        );
        if (answer.status === 401) {
          say("signed out: open mvsepd again (its tray icon, or `mvsepd open`)");
          return;
        }
        if (!answer.ok) throw new Error("HTTP " + answer.status);
        const data = await answer.json();
        say("");
        version = String(data.version);
        section.dataset.version = version;
        announce(data.takes);
        if (view !== "takes" && data.html !== shown) {
          const focused = document.activeElement ? document.activeElement.id : "";
          section.innerHTML = data.html;
          shown = data.html;
          if (focused) {
            const again = document.getElementById(focused);
            if (again) again.focus();
          }
        }
      } catch (error) {
        say("mvsepd does not answer; trying again…");
        wait = 2000;
      }
      window.setTimeout(step, wait);
    }
    step();
  }

  const live = document.querySelectorAll("[data-live]");
  live.forEach(follow);
  // A page without a live part (a take's, the models) still hears of finished takes, when
  // notifications are allowed.
  if (!live.length && document.querySelector('meta[name="csrf"]') && "Notification" in window &&
      Notification.permission === "granted") {
    follow({ dataset: { live: "takes", version: "" } });
  }

  // --- the models list: filtered as you type (the form's search still works without this).
  document.querySelectorAll("[data-filter]").forEach(function (search) {
    const table = document.getElementById(search.dataset.filter);
    const group = document.querySelector('[data-filter-group="' + search.dataset.filter + '"]');
    const count = document.getElementById("shown-count");
    if (!table) return;
    function apply() {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      const wanted = group ? group.value : "";
      let shown = 0;
      for (const row of table.tBodies[0].rows) {
        const haystack = row.dataset.search || "";
        const fits =
          words.every(function (word) { return haystack.includes(word); }) &&
          (!wanted || row.dataset.group === wanted);
        row.hidden = !fits;
        if (fits) shown += 1;
      }
      if (count) count.textContent = String(shown);
    }
    search.addEventListener("input", apply);
    if (group) group.addEventListener("change", apply);
  });

  // --- forms that show their result as soon as a choice changes (the model's cost).
  const refocus = sessionStorage.getItem("mvsepd-refocus");
  if (refocus) {
    sessionStorage.removeItem("mvsepd-refocus");
    const element = document.getElementById(refocus);
    if (element) element.focus();
  }
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.addEventListener("change", function (event) {
      if (event.target && event.target.id) sessionStorage.setItem("mvsepd-refocus", event.target.id);
      form.submit();
    });
  });

  // --- the folder picker: this machine's folders, listed by mvsepd (folders only).
  const dialog = document.getElementById("picker");
  if (dialog) {
    const list = document.getElementById("picker-list");
    const where = document.getElementById("picker-path");
    const problem = document.getElementById("picker-problem");
    const up = document.getElementById("picker-up");
    let target = null;
    let current = "";
    let parent = null;

    async function show(path, keepProblem) {
      const answer = await fetch("/browse?path=" + encodeURIComponent(path), {
        credentials: "same-origin",
        cache: "no-store",
      });
      let data = null;
      try {
        data = await answer.json();
      } catch (error) {
        data = { problem: "mvsepd did not answer (HTTP " + answer.status + ")" };
      }
      if (!keepProblem || data.problem) {
        problem.hidden = !data.problem;
        problem.textContent = data.problem || "";
      }
      if (!answer.ok) return;
      current = data.path;
      parent = data.parent;
      where.textContent = data.path;
      up.disabled = !parent;
      list.replaceChildren();
      for (const folder of data.folders) {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = folder.name;
        button.disabled = !folder.readable;
        if (!folder.readable) button.title = "you cannot open it";
        button.addEventListener("click", function () { show(folder.path); });
        item.append(button);
        list.append(item);
      }
      if (data.truncated) {
        const item = document.createElement("li");
        item.textContent = "… more folders than can be listed: type the path instead";
        list.append(item);
      }
      const first = list.querySelector("button:not([disabled])");
      (first || document.getElementById("picker-choose")).focus();
    }

    document.querySelectorAll("[data-pick]").forEach(function (button) {
      button.addEventListener("click", async function () {
        target = document.getElementById(button.dataset.pick);
        current = "";
        dialog.showModal();
        await show((target && target.value.trim()) || dialog.dataset.home, false);
        // A typed path that cannot be listed: say why, and start from the home folder.
        if (!current) await show(dialog.dataset.home, true);
      });
    });
    up.addEventListener("click", function () { if (parent) show(parent); });
    document.getElementById("picker-choose").addEventListener("click", function () {
      if (target && current) target.value = current;
      dialog.close();
      if (target) target.focus();
    });
    document.getElementById("picker-close").addEventListener("click", function () {
      dialog.close();
      if (target) target.focus();
    });
  }
})();
