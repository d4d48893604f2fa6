// The DDS web console: plain JavaScript on the service's own REST API (same origin, same
// credentials and isolation as any client). Nothing is loaded from anywhere else.
"use strict";

const state = { token: sessionStorage.getItem("dds.token") || "", project: sessionStorage.getItem("dds.project") || "", instances: [] };
const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
};

function say(text, isError = false) {
  const box = $("#message");
  box.textContent = text;
  box.className = isError ? "error" : "";
}

async function call(method, path, body) {
  const url = path.startsWith("/v3") ? path : `/v3/${state.project}${path}`;
  const headers = { "X-Auth-Token": state.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  const data = text ? JSON.parse(text) : {};
  if (!r.ok) throw new Error(`${data.error_code || r.status}: ${data.error_msg || text}`);
  return data;
}

async function guarded(action) {
  try {
    await action();
  } catch (err) {
    say(String(err.message || err), true);
  }
}

// --- log in ---------------------------------------------------------------------------------

async function useToken(token) {
  state.token = token;
  if (!state.project) {
    const projects = (await call("GET", "/v3/projects")).projects || [];
    if (projects.length !== 1) throw new Error("this token sees several projects; log in with a project-scoped token");
    state.project = projects[0].id;
  }
  sessionStorage.setItem("dds.token", state.token);
  sessionStorage.setItem("dds.project", state.project);
  enter();
}

$("#login-token").addEventListener("submit", (e) => {
  e.preventDefault();
  state.project = "";
  guarded(() => useToken(new FormData(e.target).get("token").trim()));
});

$("#login-password").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  guarded(async () => {
    const body = { auth: { identity: { methods: ["password"], password: { user: { name: f.get("user"), password: f.get("password"), domain: { name: f.get("domain") || "Default" } } } }, scope: { project: { name: f.get("project") } } } };
    const r = await fetch("/v3/auth/tokens", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!r.ok) {
      const data = await r.json().catch(() => ({}));
      throw new Error(`${data.error_code || (data.error && data.error.code) || r.status}: ${data.error_msg || (data.error && data.error.message) || "login failed"}`);
    }
    state.project = (await r.json()).token.project.id;
    await useToken(r.headers.get("X-Subject-Token"));
  });
});

$("#logout").addEventListener("click", () => {
  sessionStorage.clear();
  location.reload();
});

function enter() {
  $("#login").hidden = true;
  $("#nav").hidden = false;
  $("#who").textContent = `project ${state.project}`;
  show("instances");
  setInterval(refresh, 2000);
}

let current = "instances";
function show(view) {
  current = view;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== view;
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === view);
  refresh();
}
for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => show(tab.dataset.view));

async function refresh() {
  if (!state.token) return;
  await guarded(async () => {
    state.instances = (await call("GET", "/instances")).instances || [];
    fillInstanceSelects();
    if (current === "instances") renderInstances();
    if (current === "backups") await renderBackups();
    if (current === "jobs") await renderJobs();
  });
}

function fillInstanceSelects() {
  for (const select of document.querySelectorAll(".instance-select")) {
    const chosen = select.value;
    select.replaceChildren(...state.instances.map((i) => el("option", { value: i.id }, `${i.name} (${i.status})`)));
    if (chosen) select.value = chosen;
  }
}

// --- instances ------------------------------------------------------------------------------

async function connectionString(i) {
  const node = i.groups[0].nodes[0];
  const name = i.mode === "ReplicaSet" ? (await call("GET", `/instances/${i.id}/replica-set/name`)).name || "replica" : "";
  const rs = name ? `&replicaSet=${encodeURIComponent(name)}` : "";
  const tls = String(i.ssl) === "1" ? "&tls=true" : "";
  return `mongodb://rwuser:<password>@${node.private_ip}:${i.port}/?authSource=admin${rs}${tls}`;
}

function renderInstances() {
  const body = $("#instance-table tbody");
  body.replaceChildren(...state.instances.map((i) => el("tr", { "data-instance": i.name },
    el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); guarded(() => detail(i)); } }, i.name)),
    el("td", { class: `status status-${i.status}` }, i.status),
    el("td", {}, i.mode),
    el("td", {}, i.groups[0].nodes[0].spec_code),
    el("td", {}, i.port),
    el("td", {},
      el("button", { onclick: () => guarded(async () => { await call("POST", `/instances/${i.id}/restart`, {}); say(`restarting ${i.name}`); }) }, "Restart"),
      el("button", { onclick: () => resize(i) }, "Resize"),
      el("button", { class: "delete", onclick: () => confirm(`Delete ${i.name}?`) && guarded(async () => { await call("DELETE", `/instances/${i.id}`); say(`deleting ${i.name}`); }) }, "Delete")))));
}

async function detail(i) {
  const conn = await connectionString(i);
  const panels = { users: el("div", { id: "panel-users" }), tags: el("div", { id: "panel-tags" }), params: el("div", { id: "panel-params" }), slow: el("div", { id: "panel-slowlog" }) };
  $("#instance-detail").replaceChildren(el("div", { "data-detail": i.id },
    el("h3", {}, i.name),
    el("p", {}, "Connection string: ", el("code", { class: "conn" }, conn)),
    el("table", {}, el("tbody", {}, ...i.groups.flatMap((g) => g.nodes.map((n) => el("tr", {}, el("td", {}, n.name), el("td", {}, n.role), el("td", {}, n.status), el("td", {}, `${n.private_ip}:${i.port}`)))))),
    panels.users, panels.tags, panels.params, panels.slow));
  await Promise.all([renderUsers(i, panels.users), renderTags(i, panels.tags), renderParams(i, panels.params), renderSlowLog(i, panels.slow)]);
}

// Each panel of the detail view draws itself again after a change it made.

async function jobEnd(jobId) {
  for (;;) {
    const job = (await call("GET", `/jobs?id=${encodeURIComponent(jobId)}`)).job;
    if (job.status !== "Running") return job;
    await new Promise((done) => setTimeout(done, 1000));
  }
}

async function renderUsers(i, box, db = "admin") {
  const data = await call("GET", `/instances/${i.id}/db-user/detail?db_name=${encodeURIComponent(db)}`);
  const users = JSON.parse(data.users || "[]");
  const roles = (u) => (u.roles || []).map((r) => `${r.role}@${r.db}`).join(", ");
  const form = el("form", { class: "inline", id: "create-user" },
    el("input", { name: "name", placeholder: "user name", required: "" }),
    el("input", { name: "password", type: "password", placeholder: "password", required: "" }),
    el("input", { name: "db", value: db, title: "database of the user" }),
    el("input", { name: "roles", placeholder: "roles: read@shop, readWrite", title: "ROLE or ROLE@DB, comma-separated" }),
    el("button", { type: "submit" }, "Create user"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const userDb = f.get("db") || "admin";
    const wanted = String(f.get("roles") || "").split(",").map((s) => s.trim()).filter(Boolean)
      .map((r) => ({ role_name: r.split("@")[0], role_db_name: r.includes("@") ? r.split("@")[1] : userDb }));
    guarded(async () => {
      await call("POST", `/instances/${i.id}/db-user`, { user_name: f.get("name"), user_pwd: f.get("password"), db_name: userDb, roles: wanted });
      say(`user ${f.get("name")} created`);
      await renderUsers(i, box, userDb);
    });
  });
  const shown = el("input", { value: db, title: "show the users of this database", class: "users-db" });
  shown.addEventListener("change", () => guarded(() => renderUsers(i, box, shown.value || "admin")));
  box.replaceChildren(el("h4", {}, "Database users of ", shown),
    el("table", { class: "users" }, el("tbody", {}, ...users.map((u) => el("tr", { "data-user": u.user },
      el("td", {}, u.user), el("td", {}, u.db), el("td", {}, roles(u)),
      el("td", {}, u.user === "rwuser" ? "" : el("button", { class: "delete", onclick: () => confirm(`Delete user ${u.user}?`) && guarded(async () => {
        await call("DELETE", `/instances/${i.id}/db-user`, { user_name: u.user, db_name: u.db });
        say(`user ${u.user} deleted`);
        await renderUsers(i, box, db);
      }) }, "Delete")))))),
    form);
}

async function renderTags(i, box) {
  const tags = (await call("GET", `/instances/${i.id}/tags`)).tags || [];
  const change = (action, pairs) => guarded(async () => {
    await call("POST", `/instances/${i.id}/tags/action`, { action, tags: pairs });
    say(`tags ${action === "create" ? "added" : "removed"}`);
    await renderTags(i, box);
  });
  const form = el("form", { class: "inline", id: "add-tag" },
    el("input", { name: "key", placeholder: "key", required: "" }), el("input", { name: "value", placeholder: "value" }),
    el("button", { type: "submit" }, "Add tag"));
  form.addEventListener("submit", (e) => { e.preventDefault(); const f = new FormData(form); change("create", [{ key: f.get("key"), value: f.get("value") || "" }]); });
  box.replaceChildren(el("h4", {}, "Tags"),
    el("p", { class: "tags" }, ...(tags.length ? tags.map((t) => el("span", { class: "tag", "data-tag": t.key }, `${t.key}=${t.value} `,
      el("button", { class: "delete", title: "remove", onclick: () => change("delete", [{ key: t.key }]) }, "×"))) : ["none"])),
    form);
}

async function renderParams(i, box) {
  const params = (await call("GET", `/instances/${i.id}/configurations`)).parameters || [];
  const form = el("form", { id: "instance-params" });
  form.append(el("table", {}, el("thead", {}, el("tr", {}, ...["Parameter", "Value", "Range", "Restart", "Description"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...params.map((p) => el("tr", { "data-param": p.name },
      el("td", {}, p.name),
      el("td", {}, p.readonly ? p.value : el("input", { name: p.name, value: p.value, "data-was": p.value })),
      el("td", {}, p.value_range), el("td", {}, p.restart_required ? "yes" : "no"), el("td", { class: "description" }, p.description || ""))))),
    el("button", { type: "submit" }, "Apply changed values"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const changed = {};
    for (const input of form.querySelectorAll("input[data-was]")) if (input.value !== input.dataset.was) changed[input.name] = input.value;
    if (!Object.keys(changed).length) return say("no parameter changed");
    guarded(async () => {
      const r = await call("PUT", `/instances/${i.id}/configurations`, { entity_id: i.id, parameter_values: changed });
      say(`applying parameters (job ${r.job_id}${r.restart_required ? ", the engine restarts" : ""})`);
      const job = await jobEnd(r.job_id);
      await renderParams(i, box);  // drawn with the values now in force, then said
      say(`parameters applied (job ${r.job_id}: ${job.status})`, job.status !== "Completed");
    });
  });
  box.replaceChildren(el("h4", {}, "Parameters"), form);
}

async function renderSlowLog(i, box) {
  const stamp = (d) => d.toISOString().slice(0, 19) + "+0000";
  const end = new Date(Date.now() + 60e3);
  const query = `start_date=${encodeURIComponent(stamp(new Date(end - 3600e3)))}&end_date=${encodeURIComponent(stamp(end))}&offset=0&limit=20`;
  const entries = (await call("GET", `/instances/${i.id}/slowlog?${query}`)).slow_log_list || [];
  box.replaceChildren(el("h4", {}, "Slow log (last hour) ", el("button", { onclick: () => guarded(() => renderSlowLog(i, box)) }, "Refresh")),
    el("table", { class: "slowlog" }, el("tbody", {}, ...(entries.length ? entries.map((s) => el("tr", {},
      el("td", {}, s.start_time), el("td", {}, s.time), el("td", {}, s.type), el("td", {}, s.database), el("td", {}, el("code", {}, s.query_sample))))
      : [el("tr", {}, el("td", {}, "no slow commands"))]))));
}

async function resize(i) {
  const flavors = (await call("GET", "/flavors")).flavors.filter((f) => f.type === i.groups[0].type || f.type === (i.mode === "Single" ? "single" : "replica"));
  const code = prompt(`New flavor for ${i.name}:\n${flavors.map((f) => f.spec_code).join("\n")}`, flavors[0] && flavors[0].spec_code);
  if (code) guarded(async () => { await call("POST", `/instances/${i.id}/resize`, { resize: { target_type: "replica", target_id: i.id, target_spec_code: code } }); say(`resizing ${i.name}`); });
}

$("#create-instance").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const replica = f.get("mode") === "ReplicaSet";
  guarded(async () => {
    const r = await call("POST", "/instances", {
      name: f.get("name"), password: f.get("password"), mode: f.get("mode"),
      datastore: { type: "DDS-Community", version: f.get("version"), storage_engine: "wiredTiger" },
      region: "local-1", availability_zone: "local-1a", vpc_id: "console", subnet_id: "console", security_group_id: "console",
      flavor: [{ type: replica ? "replica" : "single", num: 1, storage: "ULTRAHIGH", size: String(f.get("size")), spec_code: `dds.mongodb.s2.medium.4.${replica ? "repset" : "single"}` }],
    });
    say(`creating ${f.get("name")} (job ${r.job_id})`);
    e.target.reset();
    refresh();
  });
});

// --- backups --------------------------------------------------------------------------------

async function renderBackups() {
  const backups = (await call("GET", "/backups")).backups || [];
  const rows = [];
  for (const b of backups) {
    const files = el("td", { class: "files" });
    if (b.status === "COMPLETED") {
      const links = await call("GET", `/backups/download-file?instance_id=${b.instance_id}&backup_id=${b.id}`).catch(() => ({ files: [] }));
      for (const file of links.files || []) files.append(el("a", { href: file.download_link, download: file.name, class: "download", "data-file": file.name }, el("button", {}, `Download ${file.name.includes("physical") ? "physical" : "mongodump"}`)));
    }
    rows.push(el("tr", { "data-backup": b.name },
      el("td", {}, b.name), el("td", {}, b.instance_name), el("td", {}, b.type),
      el("td", { class: `status status-${b.status}` }, b.status), el("td", {}, b.size), files,
      el("td", {}, b.status === "COMPLETED" ? el("span", {},
        el("button", { class: "restore-new", onclick: () => restoreNew(b) }, "Restore to new"),
        el("button", { class: "restore-original", onclick: () => restoreOriginal(b) }, "Restore to original")) : "")));
  }
  $("#backup-table tbody").replaceChildren(...rows);
}

function newInstanceBody(name, password, version, restorePoint) {
  return {
    name, password, mode: "ReplicaSet",
    datastore: { type: "DDS-Community", version: version || "4.0", storage_engine: "wiredTiger" },
    region: "local-1", availability_zone: "local-1a", vpc_id: "console", subnet_id: "console", security_group_id: "console",
    flavor: [{ type: "replica", num: 1, storage: "ULTRAHIGH", size: "10", spec_code: "dds.mongodb.s2.medium.4.repset" }],
    restore_point: restorePoint,
  };
}

function restoreNew(b) {
  const name = prompt("Name of the new instance", `${b.instance_name}-restored`.slice(0, 64));
  if (!name) return;
  const password = prompt("rwuser password of the new instance");
  if (!password) return;
  guarded(async () => {
    const r = await call("POST", "/instances", newInstanceBody(name, password, b.datastore && b.datastore.version, { backup_id: b.id }));
    say(`restoring ${b.name} to ${name} (job ${r.job_id})`);
  });
}

function restoreOriginal(b) {
  if (!confirm(`Replace the data of ${b.instance_name} with backup ${b.name}?`)) return;
  guarded(async () => {
    const r = await call("POST", "/instances/recovery", { source: { type: "backup", backup_id: b.id }, target: { instance_id: b.instance_id } });
    say(`restoring ${b.name} onto ${b.instance_name} (job ${r.job_id})`);
  });
}

$("#create-backup").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  guarded(async () => {
    const r = await call("POST", "/backups", { backup: { instance_id: f.get("instance"), name: f.get("name"), description: "from the console" } });
    say(`backup ${f.get("name")} started (job ${r.job_id})`);
    refresh();
  });
});

// --- point in time --------------------------------------------------------------------------

$("#pitr-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const date = f.get("date") || new Date().toISOString().slice(0, 10);
  guarded(async () => {
    const ranges = (await call("GET", `/instances/${f.get("instance")}/restore-time?date=${date}`)).restore_time || [];
    const day = Date.parse(`${date}T00:00:00Z`);
    const bar = $("#timeline");
    bar.replaceChildren(...[0, 6, 12, 18].map((h) => el("span", { class: "hour", style: `left:${(h / 24) * 100}%` }, `${h}:00`)));
    for (const r of ranges) {
      const left = Math.max(0, (r.start_time - day) / 864e5) * 100;
      const width = Math.max(0.3, ((Math.min(r.end_time, day + 864e5) - Math.max(r.start_time, day)) / 864e5) * 100);
      bar.append(el("div", { class: "range", style: `left:${left}%;width:${width}%`, title: `${new Date(r.start_time).toISOString()} – ${new Date(r.end_time).toISOString()}`,
        onclick: () => { $("#pitr-restore").elements.time.value = r.end_time; } }));
    }
    $("#ranges").replaceChildren(...ranges.map((r) => el("li", {},
      `${new Date(r.start_time).toISOString()} – ${new Date(r.end_time).toISOString()} (${r.start_time} – ${r.end_time} ms)`)));
    $("#pitr-restore").hidden = ranges.length === 0;
    if (ranges.length) $("#pitr-restore").elements.time.value = ranges[ranges.length - 1].end_time;
    say(ranges.length ? `${ranges.length} restorable range(s); click one to pick its latest time` : "nothing restorable on that day (is incremental backup on?)");
  });
});

$("#pitr-restore").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const instance = $("#pitr-form").elements.instance.value;
  const time = Number(f.get("time"));
  const to = e.submitter && e.submitter.value;
  guarded(async () => {
    const r = to === "original"
      ? await call("POST", "/instances/recovery", { source: { type: "timestamp", instance_id: instance, restore_time: time }, target: { instance_id: instance } })
      : await call("POST", "/instances", newInstanceBody(f.get("name"), f.get("password"), "4.0", { type: "timestamp", instance_id: instance, restore_time: time }));
    say(`point-in-time restore started (job ${r.job_id})`);
  });
});

// --- jobs -----------------------------------------------------------------------------------

async function renderJobs() {
  const jobs = (await call("GET", `/v3.1/${state.project}/jobs`)).jobs || [];
  $("#job-table tbody").replaceChildren(...jobs.map((j) => el("tr", { "data-job": j.id },
    el("td", {}, j.name), el("td", {}, j.instance_name || ""), el("td", { class: `status status-${j.status}` }, j.status),
    el("td", {}, j.progress), el("td", {}, j.created_at || j.begin_time || ""), el("td", {}, j.fail_reason || ""))));
}

if (state.token && state.project) enter();
