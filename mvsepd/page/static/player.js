// mvsepd's player on a take's page: the source and every stem as a waveform, one transport
// for all of them, mute/solo/"everything but", the source for A/B, and a switch between two
// results of a fan-out at the same position.
//
// Sound: Web Audio. Every track is fetched in segments of SEGMENT_SECONDS (16-bit WAV cut by
// mvsepd at the file's own rate) and decoded once; segment k of every track starts at the same
// context time, in a context running at the take's rate, so all tracks stay on the same
// sample. Only a few segments around the play position are kept: a 10-minute take with six
// stems plays at once and the tab stays small. Mute and solo are gains on each track.
"use strict";

(function () {
  const element = document.getElementById("take-data");
  if (!element) return;
  const data = JSON.parse(element.textContent);
  const SEGMENT_SECONDS = 5;
  const AHEAD = 2; // segments scheduled ahead of the play position
  const KEPT_BEHIND = 1; // decoded segments kept behind it (a seek back, a short loop)

  // --- tracks: the source, then every stem of every result
  const tracks = [];
  function addTrack(id, url, job, label, trackRate) {
    const row = document.querySelector('[data-track="' + id + '"]');
    if (!row) return;
    tracks.push({
      id: id, url: url, job: job, label: label, row: row, rate: trackRate || null,
      canvas: row.querySelector("canvas"), peaks: null, gain: null,
      buffers: new Map(), // segment index -> Promise<AudioBuffer|null>
    });
  }
  if (data.source) addTrack("source", data.source.url, null, "Source", data.rate);
  for (const result of data.results) {
    for (const stem of result.stems) {
      addTrack(result.job + ":" + stem.index, stem.url, result.job, stem.label, stem.rate);
    }
  }

  const state = {
    heardJob: data.results.length ? data.results[0].job : null,
    sourceOnly: false, // A/B: the source instead of the stems
    muted: new Set(),
    soloed: new Set(),
    allBut: null,
  };

  const rate = data.rate || 48000; // the context's: the source's (stems are conformed to it)
  let seconds = data.seconds || 0; // the longest track's (the manifest's, then the peaks')
  let context = null;
  let master = null;
  let analyser = null;
  let playing = false;
  let startedAt = 0; // context time at which the position was startPosition
  let startPosition = 0;
  let position = 0; // seconds, when not playing
  let nextSegment = 0;
  let scheduling = false;
  let sources = [];
  let selection = null; // [from, to] seconds
  let pump = null;
  let generation = 0; // bumped on every stop: a late fetch does not start old audio

  const player = {
    tracks: tracks,
    state: state,
    firstSoundAt: null,
    get playing() { return playing; },
    get context() { return context; },
    position: currentPosition,
    duration: duration,
    play: play,
    pause: pause,
    seek: seek,
    audible: audible,
    setSelection: setSelection,
    levels: levels,
    render: render,
    heardJob: hear,
  };
  window.mvsepdPlayer = player;

  // Hear result ``job`` (of a fan-out, or a chain's step) from now on, at the same position.
  function hear(job) {
    state.heardJob = job;
    const radio = document.querySelector('input[name="heard"][value="' + job + '"]');
    if (radio) radio.checked = true;
    applyGains();
    showState();
  }

  function duration() { return seconds; }
  // Segment k covers [k * SEGMENT_SECONDS, (k + 1) * SEGMENT_SECONDS) of every track, cut in
  // each file's own frames (a stem at another rate than the source is resampled on decoding).
  function segmentFrames(track) { return Math.round(SEGMENT_SECONDS * (track.rate || rate)); }
  function segmentOf(at) { return Math.floor(at / SEGMENT_SECONDS); }
  function segmentCount() { return Math.max(1, Math.ceil(seconds / SEGMENT_SECONDS)); }

  function currentPosition() {
    if (!playing || !context) return position;
    // Before the first segments start (a few ms after Play) the clock stands at the start.
    return startPosition + Math.max(0, context.currentTime - startedAt);
  }

  // --- who is heard
  function audible(track) {
    if (state.sourceOnly) return track.id === "source";
    if (track.id === "source") return false;
    if (track.job !== state.heardJob) return false;
    if (state.soloed.size) return state.soloed.has(track.id);
    return !state.muted.has(track.id);
  }

  function applyGains() {
    if (!context) return;
    for (const track of tracks) {
      track.gain.gain.setValueAtTime(audible(track) ? 1 : 0, context.currentTime);
    }
  }

  function showState() {
    for (const track of tracks) {
      const heard = audible(track);
      track.row.classList.toggle("muted", !heard);
      for (const button of track.row.querySelectorAll("[data-action]")) {
        const action = button.dataset.action;
        const on = action === "mute" ? state.muted.has(track.id)
          : action === "solo" ? state.soloed.has(track.id)
          : state.allBut === track.id;
        button.setAttribute("aria-pressed", on ? "true" : "false");
      }
    }
    document.querySelectorAll("[data-result]").forEach(function (section) {
      section.classList.toggle(
        "silent", state.sourceOnly || Number(section.dataset.result) !== state.heardJob
      );
    });
    const ab = document.getElementById("hear-source");
    if (ab) ab.setAttribute("aria-pressed", state.sourceOnly ? "true" : "false");
  }

  // --- the audio graph, made on the first play (a page only looked at makes none)
  function ensureContext() {
    if (context) return;
    try {
      context = new AudioContext({ sampleRate: rate, latencyHint: "interactive" });
    } catch (error) {
      context = new AudioContext({ latencyHint: "interactive" }); // that rate is not offered
    }
    master = context.createGain();
    analyser = context.createAnalyser();
    analyser.fftSize = 2048;
    master.connect(analyser);
    analyser.connect(context.destination);
    for (const track of tracks) {
      track.gain = context.createGain();
      track.gain.connect(master);
    }
    applyGains();
  }

  async function decode(track, index) {
    const first = index * segmentFrames(track);
    const answer = await fetch(
      track.url + "/segment?start=" + first + "&frames=" + segmentFrames(track),
      { credentials: "same-origin" }
    );
    if (!answer.ok) throw new Error(track.label + ": HTTP " + answer.status);
    const bytes = await answer.arrayBuffer();
    return await context.decodeAudioData(bytes);
  }

  function segment(track, index) {
    let promise = track.buffers.get(index);
    if (!promise) {
      promise = decode(track, index).catch(function (error) {
        track.buffers.delete(index);
        say(String(error.message || error));
        return null;
      });
      track.buffers.set(index, promise);
    }
    return promise;
  }

  function forget(keepFrom, keepTo) {
    for (const track of tracks) {
      for (const index of Array.from(track.buffers.keys())) {
        if (index < keepFrom || index > keepTo) track.buffers.delete(index);
      }
    }
  }

  // Segment ``index`` of every track, started together at the same context time.
  async function schedule(index, run) {
    const buffers = await Promise.all(tracks.map(function (track) { return segment(track, index); }));
    if (run !== generation || !playing) return;
    const segmentStart = index * SEGMENT_SECONDS;
    let when = startedAt + (segmentStart - startPosition);
    let offset = 0;
    const now = context.currentTime;
    if (when < now) {
      offset = now - when;
      when = now;
    }
    tracks.forEach(function (track, i) {
      const buffer = buffers[i];
      if (!buffer || offset >= buffer.duration) return;
      const node = context.createBufferSource();
      node.buffer = buffer;
      node.connect(track.gain);
      node.start(when, offset);
      sources.push(node);
      node.onended = function () {
        sources = sources.filter(function (other) { return other !== node; });
      };
    });
    if (player.firstSoundAt === null) {
      const delay = Math.max(0, when - context.currentTime) * 1000;
      player.firstSoundAt = performance.now() + delay;
    }
  }

  async function keepAhead() {
    if (scheduling || !playing) return;
    scheduling = true;
    const run = generation;
    try {
      const now = currentPosition();
      const end = selection && loopOn() ? selection[1] : duration();
      if (now >= end) {
        if (selection && loopOn()) {
          restart(selection[0]);
        } else {
          pause();
          position = 0;
          drawCursor();
        }
        return;
      }
      const current = segmentOf(now);
      while (
        run === generation && playing && nextSegment < segmentCount() &&
        nextSegment <= current + AHEAD
      ) {
        await schedule(nextSegment, run);
        nextSegment += 1;
      }
      forget(current - KEPT_BEHIND, current + AHEAD + 1);
    } finally {
      scheduling = false;
    }
  }

  function loopOn() {
    const box = document.getElementById("loop");
    return Boolean(box && box.checked);
  }

  async function play(from) {
    if (from !== undefined) position = from;
    ensureContext();
    if (context.state !== "running") await context.resume();
    stopSources();
    playing = true;
    const run = generation;
    const first = segmentOf(position);
    // The first segment of every track before the clock starts, so all begin together.
    await Promise.all(tracks.map(function (track) { return segment(track, first); }));
    if (run !== generation) return;
    startedAt = context.currentTime + 0.05;
    startPosition = position;
    nextSegment = first;
    showPlaying();
    await keepAhead();
    if (pump === null) pump = window.setInterval(keepAhead, 100);
    animate();
  }

  function restart(from) {
    stopSources();
    playing = false;
    play(from);
  }

  function stopSources() {
    generation += 1;
    for (const node of sources) {
      try { node.stop(); } catch (error) { /* not started yet */ }
    }
    sources = [];
  }

  function pause() {
    if (!playing) return;
    position = currentPosition();
    playing = false;
    stopSources();
    if (pump !== null) {
      window.clearInterval(pump);
      pump = null;
    }
    showPlaying();
  }

  function seek(to) {
    const target = Math.max(0, Math.min(to, duration()));
    if (playing) {
      restart(target);
    } else {
      position = target;
      drawCursor();
    }
  }

  function setSelection(from, to) {
    selection = from === null ? null : [Math.min(from, to), Math.max(from, to)];
    drawSelection();
  }

  // The output's level now (0..1, the highest sample of the last 2048) and whether it clips.
  function levels() {
    if (!analyser) return { peak: 0, clipping: false };
    const samples = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (const value of samples) peak = Math.max(peak, Math.abs(value));
    return { peak: peak, clipping: peak >= 0.999 };
  }

  // The same graph rendered offline: ``seconds`` from ``from`` as the listener would hear it
  // with the current mute/solo/result/source choices (channel 0, as a plain array).
  async function render(from, length) {
    ensureContext();
    const offline = new OfflineAudioContext(2, Math.round(length * rate), rate);
    const first = segmentOf(from);
    const last = segmentOf(from + length);
    for (const track of tracks) {
      const gain = offline.createGain();
      gain.gain.value = audible(track) ? 1 : 0;
      gain.connect(offline.destination);
      for (let index = first; index <= last && index < segmentCount(); index += 1) {
        const buffer = await segment(track, index);
        if (!buffer) continue;
        const node = offline.createBufferSource();
        node.buffer = buffer;
        node.connect(gain);
        const at = index * SEGMENT_SECONDS - from;
        if (at >= 0) node.start(at);
        else node.start(0, -at);
      }
    }
    const rendered = await offline.startRendering();
    return Array.from(rendered.getChannelData(0));
  }

  // --- what the page shows
  const playButton = document.getElementById("play");
  const clock = document.getElementById("clock");
  const slider = document.getElementById("position");
  const meterBar = document.getElementById("meter-bar");
  const clipWord = document.getElementById("clip");

  function say(words) {
    const connection = document.getElementById("connection");
    if (connection) connection.textContent = words;
  }

  function showPlaying() {
    playButton.textContent = playing ? "Pause" : "Play";
    playButton.setAttribute("aria-pressed", playing ? "true" : "false");
  }

  function clockWords(seconds) {
    const minutes = Math.floor(seconds / 60);
    const rest = seconds - minutes * 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest.toFixed(1);
  }

  function drawCursor() {
    const now = currentPosition();
    const share = duration() ? Math.min(1, now / duration()) : 0;
    for (const track of tracks) {
      track.row.querySelector(".cursor").style.left = (share * 100).toFixed(3) + "%";
    }
    clock.textContent = clockWords(now);
    if (document.activeElement !== slider) slider.value = String(Math.round(share * 1000));
  }

  function drawSelection() {
    for (const track of tracks) {
      const box = track.row.querySelector(".selection");
      if (!selection || !duration()) {
        box.hidden = true;
        continue;
      }
      box.hidden = false;
      box.style.left = ((selection[0] / duration()) * 100).toFixed(3) + "%";
      box.style.width = (((selection[1] - selection[0]) / duration()) * 100).toFixed(3) + "%";
    }
  }

  function animate() {
    drawCursor();
    const level = levels();
    meterBar.style.width = Math.min(100, level.peak * 100).toFixed(0) + "%";
    if (level.clipping) clipWord.hidden = false;
    if (playing) window.requestAnimationFrame(animate);
  }

  function drawWave(track) {
    const peaks = track.peaks;
    const canvas = track.canvas;
    const width = canvas.width;
    const height = canvas.height;
    const paint = canvas.getContext("2d");
    paint.clearRect(0, 0, width, height);
    paint.fillStyle = "#1f5f8b";
    const points = peaks.points;
    if (!points) return;
    // Channels overlaid: the widest reach of any channel in each column.
    const share = seconds ? peaks.seconds / seconds : 1;
    const columns = Math.max(1, Math.round(width * share));
    for (let x = 0; x < columns; x += 1) {
      const from = Math.floor((x / columns) * points);
      const to = Math.max(from + 1, Math.floor(((x + 1) / columns) * points));
      let low = 0;
      let high = 0;
      for (let channel = 0; channel < peaks.channels; channel += 1) {
        for (let i = from; i < to && i < points; i += 1) {
          low = Math.min(low, peaks.minimum[channel][i]);
          high = Math.max(high, peaks.maximum[channel][i]);
        }
      }
      const top = Math.round((1 - Math.min(1, high)) * (height / 2));
      const bottom = Math.round((1 - Math.max(-1, low)) * (height / 2));
      paint.fillRect(x, top, 1, Math.max(1, bottom - top));
    }
  }

  async function loadPeaks() {
    // One at a time: the first play's segments are not kept waiting behind six long reads.
    for (const track of tracks) {
      try {
        const answer = await fetch(track.url + "/peaks", { credentials: "same-origin" });
        const peaks = await answer.json();
        if (!answer.ok) throw new Error(peaks.problem || "HTTP " + answer.status);
        track.peaks = peaks;
        track.rate = peaks.sample_rate || track.rate;
        if (peaks.seconds > seconds) {
          seconds = peaks.seconds;
          tracks.forEach(function (other) { if (other.peaks) drawWave(other); });
        } else {
          drawWave(track);
        }
        track.canvas.dataset.points = String(peaks.points);
        if (peaks.clipped_samples) {
          const words = track.row.querySelector(".clips");
          words.hidden = false;
          words.textContent = "clips: " + peaks.clipped_samples + " samples";
        }
      } catch (error) {
        say(track.label + ": no waveform (" + (error.message || error) + ")");
      }
    }
    document.getElementById("player").dataset.ready = "true";
  }

  // --- controls
  playButton.addEventListener("click", function () {
    if (playing) pause();
    else play();
  });
  slider.addEventListener("change", function () {
    seek((Number(slider.value) / 1000) * duration());
  });
  const ab = document.getElementById("hear-source");
  if (ab) {
    ab.addEventListener("click", function () {
      state.sourceOnly = !state.sourceOnly;
      applyGains();
      showState();
    });
  }
  document.querySelectorAll('input[name="heard"]').forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (radio.checked) hear(Number(radio.value));
    });
  });
  for (const track of tracks) {
    for (const button of track.row.querySelectorAll("[data-action]")) {
      button.addEventListener("click", function () {
        const action = button.dataset.action;
        if (action === "mute") {
          if (state.muted.has(track.id)) state.muted.delete(track.id);
          else state.muted.add(track.id);
          state.allBut = null;
        } else if (action === "solo") {
          if (state.soloed.has(track.id)) state.soloed.delete(track.id);
          else state.soloed.add(track.id);
          state.allBut = null;
        } else if (state.allBut === track.id) {
          state.allBut = null;
          state.muted.clear();
        } else {
          // Everything but this stem: its result's other stems, nothing soloed.
          state.allBut = track.id;
          state.soloed.clear();
          state.muted = new Set([track.id]);
          state.sourceOnly = false;
          hear(track.job);
        }
        applyGains();
        showState();
      });
    }
    // Click to move there; drag to select a stretch (looped when "Loop" is on).
    const wave = track.row.querySelector(".wave");
    let pressedAt = null;
    function at(event) {
      const box = wave.getBoundingClientRect();
      return Math.max(0, Math.min(1, (event.clientX - box.left) / box.width)) * duration();
    }
    wave.addEventListener("mousedown", function (event) {
      pressedAt = { x: event.clientX, seconds: at(event) };
    });
    wave.addEventListener("mouseup", function (event) {
      if (pressedAt === null) return;
      if (Math.abs(event.clientX - pressedAt.x) > 4) {
        setSelection(pressedAt.seconds, at(event));
        const box = document.getElementById("loop");
        if (box) box.checked = true;
        seek(selection[0]);
      } else {
        seek(at(event));
      }
      pressedAt = null;
    });
  }
  // A stem dragged out of the page arrives as a file where the browser allows it (Chromium).
  document.querySelectorAll("a.stem-name").forEach(function (link) {
    link.addEventListener("dragstart", function (event) {
      const kind = link.download.match(/\.(flac|aiff?)$/i);
      const type = kind ? "audio/" + kind[1].toLowerCase() : "audio/wav";
      event.dataTransfer.setData("DownloadURL", type + ":" + link.download + ":" + link.href);
    });
  });
  document.querySelectorAll("[data-reveal]").forEach(function (button) {
    button.addEventListener("click", async function () {
      const token = document.querySelector('meta[name="csrf"]').content;
      const answer = await fetch(button.dataset.reveal, {
        method: "POST", credentials: "same-origin", headers: { "X-Mvsepd-CSRF": token },
      });
      say(answer.ok ? "" : "could not show the folder (HTTP " + answer.status + ")");
    });
  });
  document.addEventListener("keydown", function (event) {
    const target = event.target;
    const typing = target && (target.tagName === "INPUT" || target.tagName === "BUTTON" ||
      target.tagName === "A" || target.tagName === "SELECT");
    if (event.code === "Space" && !typing) {
      event.preventDefault();
      playButton.click();
    }
  });

  showState();
  loadPeaks();
})();
