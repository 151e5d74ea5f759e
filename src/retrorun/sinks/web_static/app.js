// The live page: one WebSocket to the session, reconnecting by itself. It shows what
// the session says and sends only "pause", "resume" or "stop": nothing here can make
// the belt faster.
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || "";
  const voice = params.get("voice") === "1";
  const $ = (id) => document.getElementById(id);
  const STALE_MS = 6000; // the session sends at least a tick every 2 s
  const COUNTS = new Set(["three", "two", "one", "go"]);
  const ALERTS = {
    ceiling_clamped: "AT THE CEILING",
    ceiling_violation: "TOO FAST",
    belt_halted: "BELT STOPPED",
    speed_refused: "SPEED HELD",
    hr_high: "HEART RATE HIGH",
    safety_stop: "SAFETY STOP",
    safety_key: "SAFETY KEY",
    console_change: "CONSOLE CHANGE",
    command_ignored_by_device: "NOT FOLLOWED",
    link_lost: "LINK LOST",
    link_restored: "LINK RESTORED",
    user_stop: "STOPPING",
  };
  const LASTING = new Set(["safety_stop", "safety_key", "link_lost", "belt_halted"]);

  let socket = null;
  let retryMs = 500;
  let lastFrame = 0;
  let ended = false;
  let plan = [];
  let status = "idle";
  let alertTimer = 0;
  let flashTimer = 0;
  let wakeLock = null;

  const speedText = (kmh) => {
    const h = Math.round(kmh * 100);
    return h % 10 ? (h / 100).toFixed(2) : (h / 100).toFixed(1);
  };
  const clockText = (seconds) => {
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
  };
  const setText = (id, text) => {
    const el = $(id);
    if (el.textContent !== text) el.textContent = text;
  };

  function setPlan(started) {
    plan = started.steps || [];
    setText("program", started.program || "retrorun");
    const total = plan.reduce((sum, s) => sum + s.duration_s, 0) || 1;
    const bar = $("bar-steps");
    bar.replaceChildren(
      ...plan.map((s) => {
        const part = document.createElement("span");
        part.className = s.turnaround ? "turnaround" : s.direction;
        part.style.flexGrow = String(Math.max(s.duration_s, total * 0.01));
        return part;
      }),
    );
  }

  function setStep(started) {
    setText("step-words", started.words || "");
    setText("next-words", started.next_words ? `next: ${started.next_words}` : "");
    [...$("bar-steps").children].forEach((part, i) => {
      part.classList.toggle("done", i < started.index);
    });
  }

  function headline(state) {
    const facing = state.direction === "forward" ? "FORWARD" : "BACKWARD";
    if (state.status === "paused") return ["paused", "PAUSED", `facing ${facing.toLowerCase()}`];
    if (state.status === "stopped") return ["done", "STOPPED", ""];
    if (state.status === "idle") return ["idle", "GET READY", ""];
    const step = plan[state.step];
    if (state.status === "turning" || state.direction === "turning" || (step && step.turnaround)) {
      return ["turning", "TURN AROUND", "hold the rails"];
    }
    return [state.direction === "forward" ? "forward" : "backward", facing, state.step_label];
  }

  function setState(state) {
    status = state.status;
    const [cls, word, line] = headline(state);
    $("headline").className = cls;
    setText("direction", word);
    setText("status-line", line || "");
    setText("speed", speedText(state.speed_kmh));
    setText("target", state.target_kmh > 0 ? speedText(state.target_kmh) : "--");
    setText("ceiling", speedText(state.ceiling_kmh));
    setText("countdown", clockText(state.step_remaining_s));
    setText("elapsed", clockText(state.elapsed_s));
    const hr = state.heart_rate_bpm;
    $("hr").hidden = hr === null || hr === undefined;
    if (!$("hr").hidden) setText("hr-value", String(hr));
    const pause = $("pause");
    pause.disabled = !["running", "turning", "paused"].includes(status);
    setText("pause", status === "paused" ? "Resume" : "Pause");
    const total = plan.reduce((sum, s) => sum + s.duration_s, 0);
    if (total > 0 && state.step < plan.length) {
      const before = plan.slice(0, state.step).reduce((sum, s) => sum + s.duration_s, 0);
      const inStep = Math.max(0, plan[state.step].duration_s - state.step_remaining_s);
      const done = Math.min(1, (before + inStep) / total);
      $("bar-mark").style.left = `${(done * 100).toFixed(2)}%`;
    }
  }

  function showAlert(event) {
    const title = ALERTS[event.kind];
    if (!title) return;
    setText("alert-kind", title);
    setText("alert-text", event.message || "");
    $("alert").hidden = false;
    document.body.classList.add("flash");
    clearTimeout(flashTimer);
    clearTimeout(alertTimer);
    flashTimer = setTimeout(() => document.body.classList.remove("flash"), 600);
    if (!LASTING.has(event.kind)) alertTimer = setTimeout(() => ($("alert").hidden = true), 8000);
  }

  function showSummary(lines, reason) {
    ended = true;
    setText("summary-title", reason === "completed" ? "Session complete" : "Session over");
    setText("summary-text", (lines || []).join("\n"));
    $("summary").hidden = false;
    $("lost").hidden = true;
    $("alert").hidden = true;
    $("pause").disabled = true;
  }

  function onEvent(event) {
    switch (event.kind) {
      case "session_started":
        setPlan(event);
        break;
      case "step_started":
        setStep(event);
        break;
      case "command_ack":
      case "command_refused":
        if (event.source === "web") setText("ack", event.message);
        break;
      default:
        break;
    }
    if (event.safety) showAlert(event);
  }

  function speak(cue) {
    if (cue.kind === "tone" && !COUNTS.has(cue.text)) return; // a tone's name is no word
    setText("caption", cue.text);
    if (!("speechSynthesis" in window)) return;
    if (cue.urgent) window.speechSynthesis.cancel();
    const utterance = new SpeechSynthesisUtterance(cue.text);
    utterance.lang = "en-US";
    window.speechSynthesis.speak(utterance);
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "hello":
        if (frame.started) setPlan(frame.started);
        if (frame.step) setStep(frame.step);
        if (frame.state) setState(frame.state);
        if (frame.ended) showSummary(frame.ended.summary, frame.ended.reason);
        break;
      case "state":
        setState(frame);
        break;
      case "event":
        onEvent(frame);
        break;
      case "cue":
        if (voice) speak(frame);
        break;
      case "ended":
        showSummary(frame.summary, frame.reason);
        break;
      default:
        break;
    }
  }

  function lost() {
    if (ended) return;
    $("lost").hidden = false;
    document.body.classList.add("lost");
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`);
    socket = ws;
    ws.onopen = () => {
      retryMs = 500;
      lastFrame = Date.now();
      $("lost").hidden = true;
      document.body.classList.remove("connecting", "lost");
    };
    ws.onmessage = (message) => {
      lastFrame = Date.now();
      onFrame(JSON.parse(message.data));
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      if (ended) return;
      lost();
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
  }

  // A network that drops without a word closes no socket: silence says it instead.
  setInterval(() => {
    if (socket && socket.readyState === WebSocket.OPEN && Date.now() - lastFrame > STALE_MS) {
      const dead = socket;
      dead.onclose(); // show it now and reconnect; the old socket is left to time out
      dead.onclose = null;
      dead.close();
    }
  }, 1000);

  function send(command) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(command);
      setText("ack", `${command} sent`);
    } else {
      setText("ack", `${command} NOT sent: no connection`);
    }
  }

  $("stop").addEventListener("click", () => send("stop"));
  $("pause").addEventListener("click", () => send(status === "paused" ? "resume" : "pause"));
  $("alert-ok").addEventListener("click", () => ($("alert").hidden = true));

  async function keepAwake() {
    if (!("wakeLock" in navigator) || document.visibilityState !== "visible") return;
    try {
      wakeLock = await navigator.wakeLock.request("screen");
    } catch (_) {
      wakeLock = null; // refused (battery saver): the screen may dim
    }
  }
  document.addEventListener("visibilitychange", keepAwake);
  document.addEventListener("click", () => wakeLock || keepAwake(), { once: false });
  keepAwake();

  if (voice) {
    $("caption").hidden = false;
    setText("caption", "voice on: tap the screen once to allow speech");
    document.addEventListener(
      "click",
      () => "speechSynthesis" in window && window.speechSynthesis.speak(new SpeechSynthesisUtterance("Voice on.")),
      { once: true },
    );
  }
  connect();
})();
