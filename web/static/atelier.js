// Atelier pages: the few things that need a script. It adds copy buttons, sends the training
// form to POST /api/jobs, and keeps the job view live (progress, loss curve and log from the
// job's Server-Sent Events stream at /api/jobs/ID/events), and keeps a New pull request
// draft across a login. Pages other than the training form work without it.
"use strict";

(function () {
  function setupCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-copy"));
        if (!target || !navigator.clipboard) {
          return;
        }
        navigator.clipboard.writeText(target.textContent).then(function () {
          var old = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = old; }, 1500);
        });
      });
    });
  }

  var SVG_NS = "http://www.w3.org/2000/svg";

  function svgElement(name, attrs) {
    var el = document.createElementNS(SVG_NS, name);
    Object.keys(attrs).forEach(function (key) { el.setAttribute(key, attrs[key]); });
    return el;
  }

  // Redraws the loss curve: points are [step, loss] pairs sorted by step.
  function drawChart(svg, points) {
    var width = 600, height = 240, left = 48, right = 12, top = 12, bottom = 28;
    while (svg.firstChild) {
      svg.removeChild(svg.firstChild);
    }
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.appendChild(svgElement("line", { "class": "axis", x1: left, y1: top, x2: left, y2: height - bottom }));
    svg.appendChild(svgElement("line", { "class": "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
    if (points.length === 0) {
      var empty = svgElement("text", { x: left + 10, y: height / 2 });
      empty.textContent = "No loss reported yet";
      svg.appendChild(empty);
      return;
    }
    var minStep = points[0][0], maxStep = points[points.length - 1][0];
    var minLoss = Infinity, maxLoss = -Infinity;
    points.forEach(function (p) {
      minLoss = Math.min(minLoss, p[1]);
      maxLoss = Math.max(maxLoss, p[1]);
    });
    if (maxStep === minStep) { maxStep = minStep + 1; }
    if (maxLoss === minLoss) { maxLoss = minLoss + 1; }
    var sx = function (s) { return left + (s - minStep) / (maxStep - minStep) * (width - left - right); };
    var sy = function (l) { return top + (maxLoss - l) / (maxLoss - minLoss) * (height - top - bottom); };
    var d = points.map(function (p, i) {
      return (i === 0 ? "M" : "L") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1);
    }).join(" ");
    svg.appendChild(svgElement("path", { "class": "line", d: d }));
    var labels = [
      [4, top + 10, maxLoss.toPrecision(4)],
      [4, height - bottom, minLoss.toPrecision(4)],
      [left, height - 8, "step " + minStep],
      [width - right - 80, height - 8, "step " + maxStep],
    ];
    labels.forEach(function (l) {
      var t = svgElement("text", { x: l[0], y: l[1] });
      t.textContent = l[2];
      svg.appendChild(t);
    });
    svg.setAttribute("data-count", String(points.length));
    var count = document.getElementById("chart-points");
    if (count) { count.textContent = String(points.length); }
  }

  function formatSeconds(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) { return s + " s"; }
    if (s < 3600) { return Math.floor(s / 60) + " min " + (s % 60) + " s"; }
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  function setField(root, name, text) {
    var el = root.querySelector('[data-field="' + name + '"]');
    if (el) { el.textContent = text; }
  }

  // Shows the session-expired message in box with a login link that returns to this page.
  // Requests from our scripts get 401 without a Basic login dialog once the session is gone.
  function showSessionExpired(box) {
    var link = document.createElement("a");
    link.href = "/login?next=" + encodeURIComponent(window.location.pathname);
    link.textContent = "log in again";
    box.textContent = "Your session expired; ";
    box.appendChild(link);
    box.appendChild(document.createTextNode("."));
    box.hidden = false;
  }

  // Writes a <time> for now, as the server writes a time that is under a minute old.
  function setNow(el) {
    if (!el) { return; }
    var now = new Date();
    var time = document.createElement("time");
    time.setAttribute("datetime", now.toISOString().replace(/\.\d+Z$/, "Z"));
    time.title = now.toISOString().slice(0, 16).replace("T", " ") + " UTC";
    time.textContent = "just now";
    el.textContent = "";
    el.appendChild(time);
  }

  function setupJob(root) {
    var jobId = root.getAttribute("data-job-id");
    var svg = document.getElementById("loss-chart");
    var logEl = document.getElementById("job-log");
    var bar = document.getElementById("job-progress");
    var stateEl = document.getElementById("job-state");
    var points = [];
    try {
      points = JSON.parse((svg && svg.getAttribute("data-points")) || "[]");
    } catch (e) {
      points = [];
    }
    var startState = root.getAttribute("data-state");
    if (svg) { drawChart(svg, points); }
    if (!window.EventSource || startState === "succeeded" || startState === "failed" ||
        startState === "canceled") {
      return;
    }

    function onProgress(data) {
      if (typeof data.step === "number" && typeof data.loss === "number") {
        var last = points.length ? points[points.length - 1][0] : -Infinity;
        if (data.step > last) {
          points.push([data.step, data.loss]);
        } else {
          // A replayed or retried step replaces the point with the same step.
          points = points.filter(function (p) { return p[0] < data.step; });
          points.push([data.step, data.loss]);
        }
        if (svg) { drawChart(svg, points); }
      }
      if (typeof data.step === "number") {
        setField(root, "step", String(data.step) +
          (typeof data.total_steps === "number" ? " / " + data.total_steps : ""));
        if (bar && typeof data.total_steps === "number" && data.total_steps > 0) {
          bar.max = data.total_steps;
          bar.value = data.step;
          bar.textContent = Math.round(100 * data.step / data.total_steps) + "%";
        }
      }
      if (typeof data.loss === "number") { setField(root, "loss", data.loss.toFixed(4)); }
      if (typeof data.tokens_per_s === "number") { setField(root, "tokens_per_s", data.tokens_per_s.toFixed(0)); }
      if (typeof data.eta_s === "number") { setField(root, "eta_s", formatSeconds(data.eta_s)); }
    }

    var startedEl = document.getElementById("job-started");
    var finishedEl = document.getElementById("job-finished");
    var attemptsEl = document.getElementById("job-attempts");
    var liveError = document.getElementById("job-live-error");

    // A state event carries {state, attempt, message}. The page shows the times the server
    // stored, so a start or end seen live shows as "just now" until the next reload.
    function onState(data) {
      if (!data.state) { return; }
      var ended = data.state === "succeeded" || data.state === "failed" || data.state === "canceled";
      if (stateEl) {
        stateEl.textContent = data.state;
        stateEl.className = "badge state-" + data.state;
      }
      root.setAttribute("data-state", data.state);
      if (data.state === "running" && startedEl && !startedEl.querySelector("time")) {
        setNow(startedEl);
      }
      if (ended && finishedEl && !finishedEl.querySelector("time")) {
        setNow(finishedEl);
      }
      if (typeof data.attempt === "number" && attemptsEl) {
        var max = attemptsEl.getAttribute("data-max-attempts");
        attemptsEl.textContent = ended || !max ? String(data.attempt) : data.attempt + " of " + max;
      }
      if (typeof data.message === "string" && data.message !== "" && liveError &&
          data.state !== "succeeded") {
        liveError.textContent = data.message;
        liveError.hidden = false;
      }
      if (ended) {
        source.close();
        // The finished page shows the result, metrics and the adapter link.
        setTimeout(function () { window.location.reload(); }, 500);
      }
    }

    function onLog(data) {
      if (!logEl) { return; }
      var line = typeof data.line === "string" ? data.line :
        typeof data.message === "string" ? data.message : JSON.stringify(data);
      var level = data.level === "warning" || data.level === "error" ? data.level : "info";
      var span = document.createElement("span");
      span.className = "log-" + level;
      span.textContent = line;
      logEl.appendChild(span);
      logEl.appendChild(document.createTextNode("\n"));
      logEl.scrollTop = logEl.scrollHeight;
    }

    function handler(fn) {
      return function (event) {
        var data;
        try {
          data = JSON.parse(event.data);
        } catch (e) {
          return;
        }
        fn(data);
      };
    }

    // The page already shows the events up to data-last-event, so the stream starts after it.
    var lastEvent = root.getAttribute("data-last-event") || "0";
    // An EventSource cannot send the X-CSRF-Token header, so from=page requests a 401 without
    // the Basic challenge, whose login dialog would cover the page after the session ends.
    var source = new EventSource("/api/jobs/" + encodeURIComponent(jobId) +
                                 "/events?after=" + encodeURIComponent(lastEvent) + "&from=page");
    source.addEventListener("progress", handler(onProgress));
    source.addEventListener("state", handler(onState));
    source.addEventListener("log", handler(onLog));
    source.addEventListener("message", handler(function (data) {
      if (data.kind === "progress" || typeof data.loss === "number") { onProgress(data.data || data); }
      if (data.kind === "state" || typeof data.state === "string") { onState(data.data || data); }
    }));
    // The stream closes for good on a reply other than 200, such as 401 once the session has
    // expired. EventSource does not tell the status, so ask the job's JSON for it.
    source.addEventListener("error", function () {
      if (source.readyState !== EventSource.CLOSED || !liveError) { return; }
      fetch("/api/jobs/" + encodeURIComponent(jobId), {
        credentials: "same-origin",
        headers: { "X-CSRF-Token": root.getAttribute("data-csrf") || "" },
      }).then(function (response) {
        if (response.status === 401) {
          showSessionExpired(liveError);
          return;
        }
        liveError.textContent = "Live updates stopped; reload the page to see the job's state.";
        liveError.hidden = false;
      }).catch(function () {
        liveError.textContent = "Live updates stopped; reload the page to see the job's state.";
        liveError.hidden = false;
      });
    });
    root.setAttribute("data-live", "1");
  }

  // Sends the training form to POST /api/jobs as JSON and opens the new job's page.
  function setupJobForm(form) {
    var errorBox = document.getElementById("job-error");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { type: "train", params: {} };
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.value === "") {
          return;
        }
        if (el.name.indexOf("param.") === 0) {
          var key = el.name.slice(6);
          body.params[key] = el.type === "number" ? Number(el.value) : el.value;
        } else {
          body[el.name] = el.value;
        }
      });
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      errorBox.hidden = true;
      fetch(form.getAttribute("data-api"), {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "X-CSRF-Token": form.getAttribute("data-csrf") || "",
        },
        body: JSON.stringify(body),
      }).then(function (response) {
        if (response.status === 401) {
          showSessionExpired(errorBox);
          button.disabled = false;
          errorBox.focus();
          return;
        }
        return response.json().catch(function () {
          return {};
        }).then(function (json) {
          if (response.ok && json.id !== undefined) {
            window.location.href = "/jobs/" + encodeURIComponent(json.id);
            return;
          }
          throw new Error(json.error || ("the server returned status " + response.status));
        });
      }).catch(function (err) {
        errorBox.textContent = "The job was not started: " + err.message;
        errorBox.hidden = false;
        button.disabled = false;
        errorBox.focus();
      });
    });
  }

  // Keeps the values of a New pull request form that was sent after the session ended. The
  // server shows them with data-session-expired, and this saves them in the tab's
  // sessionStorage, so the empty form that the login link returns to gets them back.
  function setupPullRequestDraft(form) {
    var key = "atelier.pr-draft:" + form.getAttribute("action");
    var names = ["title", "description", "target"];
    try {
      if (form.hasAttribute("data-session-expired")) {
        var draft = {};
        names.forEach(function (name) {
          if (form.elements[name]) { draft[name] = form.elements[name].value; }
        });
        window.sessionStorage.setItem(key, JSON.stringify(draft));
        return;
      }
      var saved = window.sessionStorage.getItem(key);
      window.sessionStorage.removeItem(key);
      if (!saved || form.elements.title.value !== "" || form.elements.description.value !== "") {
        return;
      }
      var values = JSON.parse(saved);
      names.forEach(function (name) {
        if (form.elements[name] && typeof values[name] === "string") {
          form.elements[name].value = values[name];
        }
      });
    } catch (err) {
      // Storage may be off in this browser; the server's page still shows the values.
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopyButtons();
    var jobForm = document.getElementById("job-form");
    if (jobForm) { setupJobForm(jobForm); }
    var job = document.getElementById("job-live");
    if (job) { setupJob(job); }
    var pullRequestForm = document.getElementById("pr-new-form");
    if (pullRequestForm) { setupPullRequestDraft(pullRequestForm); }
  });
})();
