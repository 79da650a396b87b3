// TaskView front-end (anywidget ESM). All user text goes through textContent.
// Status words, counts and sizes arrive as traits (from JobState and the catalog): nothing
// about jobs is re-typed here.

function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatElapsed(seconds) {
  const s = Math.max(0, seconds);
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} m ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
}

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  const area = h("textarea");
  area.value = text;
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  try {
    document.execCommand("copy");
  } finally {
    area.remove();
  }
  return Promise.resolve();
}

function render({ model, el }) {
  const root = h("div", "sj-task");
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", "Seedream task");

  // header: model · action · ratio · resolution · cost            [from cache] [SIMULATED]
  const head = h("div", "sj-head");
  const title = h("span", "sj-title");
  const badges = h("span", "sj-badges");
  const cacheBadge = h("span", "sj-badge sj-badge-cache", "from history · nothing billed");
  cacheBadge.title = "From the history on disk: nothing billed (an identical fixed-seed request was made before).";
  const simBadge = h("span", "sj-badge sj-badge-sim", "SIMULATED");
  simBadge.title = "Synthetic image from the simulator — not a Seedream image. Set WAVE_API_KEY for real images.";
  badges.append(cacheBadge, simBadge);
  head.append(title, badges);

  // progress row: bar · status · elapsed · task id [copy]
  const row = h("div", "sj-row");
  const bar = h("div", "sj-bar");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  const fill = h("div", "sj-fill");
  bar.append(fill);
  const statusText = h("span", "sj-status");
  const elapsedText = h("span", "sj-elapsed");
  const idBox = h("span", "sj-id");
  const idText = h("code", "sj-id-text");
  const copyBtn = h("button", "sj-btn sj-copy", "copy");
  copyBtn.type = "button";
  copyBtn.title = "copy the task id";
  idBox.append(idText, copyBtn);
  row.append(bar, statusText, elapsedText, idBox);

  const promptBox = h("div", "sj-prompt");
  promptBox.title = "click to show the whole prompt";
  const note = h("div", "sj-note");
  const errorBox = h("div", "sj-error");
  const errorText = h("div", "sj-error-text");
  const hintText = h("div", "sj-hint");
  errorBox.append(errorText, hintText);

  const gallery = h("div", "sj-gallery");
  const viewer = h("div", "sj-viewer");
  const large = h("img", "sj-large");
  large.alt = "";
  const viewerBar = h("div", "sj-viewer-bar");
  const caption = h("span", "sj-caption");
  const saveLink = h("a", "sj-save", "⤓ save");
  const closeBtn = h("button", "sj-btn sj-close", "✕");
  closeBtn.type = "button";
  closeBtn.title = "close (Esc)";
  viewerBar.append(caption, saveLink, closeBtn);
  viewer.append(large, viewerBar);
  viewer.tabIndex = -1;

  const foot = h("div", "sj-foot");
  const footHint = h("span", "sj-foot-hint");
  const cancelBtn = h("button", "sj-btn sj-cancel", "Cancel");
  cancelBtn.type = "button";
  const stopBtn = h("button", "sj-btn sj-stop", "Stop waiting");
  stopBtn.type = "button";
  foot.append(footHint, stopBtn, cancelBtn);

  root.append(head, row, promptBox, note, errorBox, gallery, viewer, foot);
  el.append(root);

  let urls = [];
  let fullUrls = [];
  const asked = new Set();
  let selected = -1;
  let skew = 0; // browser clock minus kernel clock, in seconds

  const kernelNow = () => Date.now() / 1000 - skew;

  function tick() {
    const started = model.get("started_at");
    if (!started) {
      elapsedText.textContent = "";
      return;
    }
    const finished = model.get("finished_at");
    const end = finished > 0 ? finished : kernelNow();
    elapsedText.textContent = formatElapsed(end - started);
  }

  function renderHeader() {
    const parts = [
      model.get("model_name"),
      model.get("count_label"),
      model.get("aspect_ratio"),
      model.get("resolution"),
      model.get("cost_text"),  // the catalog's text, as every other view says it
    ];
    title.textContent = parts.filter(Boolean).join(" · ");
    title.title = model.get("pixel_size") ? `${model.get("pixel_size")} px per image` : "";
    simBadge.hidden = !model.get("simulated");
    cacheBadge.hidden = !model.get("from_cache");
    root.classList.toggle("sj-simulated", !!model.get("simulated"));
    const prompt = model.get("prompt") || "";
    promptBox.textContent = prompt ? `“${prompt}”` : "";
    promptBox.hidden = !prompt;
  }

  function renderStatus() {
    const status = model.get("status");
    const progress = Math.max(0, Math.min(100, model.get("progress") || 0));
    const done = !!model.get("done");
    root.dataset.status = status;
    let label = model.get("status_label") || status;
    if (model.get("cancelling") && !done) label = "cancelling…";
    statusText.textContent = label;
    const width = progress;
    fill.style.width = `${width}%`;
    bar.classList.toggle("sj-indeterminate", !!model.get("indeterminate"));
    bar.setAttribute("aria-valuenow", String(width));
    idText.textContent = model.get("task_id");
    idBox.hidden = !model.get("task_id");
    const message = model.get("message") || "";
    note.textContent = message;
    note.hidden = !message;
    const error = model.get("error") || "";
    errorText.textContent = error;
    hintText.textContent = model.get("hint") || "";
    errorBox.hidden = !error;
    const blocking = !!model.get("blocking");
    const interactive = !!model.get("interactive");
    // What the button can do right now, said before it is clicked.
    const queued = status === "submitting" || status === "queued";
    const started = status === "processing" || status === "downloading";
    const id = model.get("task_id") || "the task";
    cancelBtn.hidden = done || !queued || (blocking && !interactive);
    cancelBtn.disabled = !!model.get("cancelling");
    cancelBtn.title = "cancel the task on the server: a queued task is refunded";
    stopBtn.hidden = done || !started || !blocking || !interactive;
    stopBtn.title = `free the kernel now: ${id} goes on, its images are saved when it completes`;
    let hint = "";
    if (!done && blocking && !interactive) hint = "interrupt the kernel (■) to cancel";
    else if (!done && started && !blocking) {
      hint = "started on the server, so it cannot be cancelled; its images are saved when it completes";
    } else if (!done && started && blocking) hint = "started: it can no longer be cancelled";
    footHint.textContent = hint;
    foot.hidden = cancelBtn.hidden && stopBtn.hidden && !footHint.textContent;
    tick();
  }

  // One image: as wide as the card allows, at most 480 px high; several: rows 240 px high.
  // Sizes come from the images (or, before they arrive, the requested ratio): no jumps.
  function place(node, ratio, count) {
    const height = count > 1 ? 240 : 480;
    node.style.aspectRatio = String(ratio);
    node.style.width = `min(100%, ${Math.round(height * ratio)}px)`;
  }

  function placeholders() {
    const count = Math.max(1, Math.min(15, model.get("expected_images") || 1));
    const ratio = model.get("placeholder_ratio") || 1;
    gallery.classList.toggle("sj-many", count > 1);
    for (let i = 0; i < count; i += 1) {
      const box = h("div", "sj-thumb sj-placeholder");
      box.setAttribute("aria-label", `image ${i + 1} of ${count}, on its way`);
      place(box, ratio, count);
      gallery.append(box);
    }
  }

  function showLarge(index) {
    if (index < 0 || index >= urls.length) {
      selected = -1;
      viewer.classList.remove("sj-open");
      large.removeAttribute("src");
      return;
    }
    selected = index;
    const sizes = model.get("image_sizes") || [];
    const size = sizes[index] ? `${sizes[index][0]}×${sizes[index][1]}` : "";
    const full = fullUrls[index];
    large.src = full || urls[index];
    large.alt = `image ${index + 1} of ${urls.length}` + (full ? ", full size" : ", preview");
    caption.textContent = full
      ? `image ${index + 1} of ${urls.length} · full size ${size}`
      : `image ${index + 1} of ${urls.length} · preview (full size ${size} loading…)`;
    saveLink.href = full || urls[index];
    saveLink.download = `${model.get("task_id") || "seedream"}-${index + 1}${full ? "" : "-preview"}.jpg`;
    viewer.classList.add("sj-open");
    viewer.focus({ preventScroll: true });
    if (!full && !asked.has(index)) {
      asked.add(index);
      model.send({ type: "full", index });
    }
  }

  function renderGallery() {
    for (const url of urls) URL.revokeObjectURL(url);
    urls = [];
    for (const url of fullUrls) if (url) URL.revokeObjectURL(url);
    fullUrls = [];
    asked.clear();
    gallery.replaceChildren();
    const thumbs = model.get("thumbnails") || [];
    const status = model.get("status");
    if (!thumbs.length) {
      if (model.get("active")) placeholders();
      gallery.hidden = !gallery.childElementCount;
      showLarge(-1);
      return;
    }
    const sizes = model.get("image_sizes") || [];
    const simulated = model.get("simulated") ? "SIMULATED " : "";
    gallery.classList.toggle("sj-many", thumbs.length > 1);
    thumbs.forEach((data, index) => {
      const blob = new Blob([data], { type: "image/jpeg" });
      const url = URL.createObjectURL(blob);
      urls.push(url);
      const button = h("button", "sj-thumb");
      button.type = "button";
      button.title = `image ${index + 1}: click for the full-size view`;
      const size = sizes[index] || [1, 1];
      place(button, size[0] / size[1] || 1, thumbs.length);
      const img = h("img");
      img.src = url;
      img.alt = `${simulated}image ${index + 1} of ${thumbs.length}: ${model.get("prompt") || ""}`.slice(0, 160);
      button.append(img);
      button.addEventListener("click", () => showLarge(selected === index ? -1 : index));
      gallery.append(button);
    });
    gallery.hidden = false;
    showLarge(selected < urls.length ? selected : -1);
  }

  copyBtn.addEventListener("click", () => {
    copyText(model.get("task_id") || "").then(
      () => {
        copyBtn.textContent = "copied";
        setTimeout(() => (copyBtn.textContent = "copy"), 1200);
      },
      () => (copyBtn.textContent = "select the id to copy"),
    );
  });
  cancelBtn.addEventListener("click", () => {
    cancelBtn.disabled = true;
    statusText.textContent = "cancelling…";
    model.send({ type: "cancel" });
  });
  stopBtn.addEventListener("click", () => {
    stopBtn.disabled = true;
    model.send({ type: "stop_waiting" });
  });
  model.on("msg:custom", (msg, buffers) => {
    if (!msg || msg.type !== "full" || !msg.ok || !buffers || !buffers.length) return;
    const blob = new Blob([buffers[0]], { type: "image/jpeg" });
    fullUrls[msg.index] = URL.createObjectURL(blob);
    if (selected === msg.index) showLarge(msg.index);
  });
  promptBox.addEventListener("click", () => promptBox.classList.toggle("sj-expanded"));
  closeBtn.addEventListener("click", () => showLarge(-1));
  large.addEventListener("click", () => showLarge(-1));
  viewer.addEventListener("keydown", (event) => {
    if (event.key === "Escape") showLarge(-1);
    if (event.key === "ArrowRight") showLarge((selected + 1) % urls.length);
    if (event.key === "ArrowLeft") showLarge((selected - 1 + urls.length) % urls.length);
  });

  model.on("change:clock", () => {
    skew = Date.now() / 1000 - model.get("clock");
  });
  for (const name of ["model_name", "count_label", "aspect_ratio", "resolution", "cost_text", "prompt", "simulated", "from_cache"]) {
    model.on(`change:${name}`, renderHeader);
  }
  for (const name of ["status", "status_label", "active", "indeterminate", "progress", "task_id", "message", "error", "hint", "done", "blocking", "interactive", "cancelling", "stopped_waiting", "finished_at"]) {
    model.on(`change:${name}`, renderStatus);
  }
  model.on("change:thumbnails", renderGallery);
  model.on("change:status", () => {
    if (!(model.get("thumbnails") || []).length) renderGallery();
  });

  if (model.get("clock")) skew = Date.now() / 1000 - model.get("clock");
  // Thumbnails are made for this screen: tell the kernel its pixel ratio (once).
  const ratio = Math.round((window.devicePixelRatio || 1) * 100) / 100;
  if (Math.abs((model.get("pixel_ratio") || 0) - ratio) > 0.01 && !(model.get("thumbnails") || []).length) {
    model.set("pixel_ratio", ratio);
    model.save_changes();
  }
  if (model.get("scroll_on_show")) {
    requestAnimationFrame(() => root.scrollIntoView({ block: "nearest", behavior: "smooth" }));
  }
  renderHeader();
  renderStatus();
  renderGallery();
  const timer = setInterval(() => {
    if (!model.get("done")) tick();
  }, 100);

  return () => {
    clearInterval(timer);
    for (const url of [...urls, ...fullUrls]) if (url) URL.revokeObjectURL(url);
    urls = [];
    fullUrls = [];
  };
}

export default { render };
