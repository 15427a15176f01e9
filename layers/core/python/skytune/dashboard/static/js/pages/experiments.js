import { get, enc } from "../api.js";
import { h, when, errorBox } from "../dom.js";
import { state, setState } from "../app.js";

export async function experimentsPage(app) {
  const search = h("input", { type: "search", id: "experiment-search", placeholder: "search by name", value: state().q || "" });
  const body = h("tbody");
  const table = h("table", { id: "experiments" },
    h("thead", {}, h("tr", {}, h("th", {}, "Experiment"), h("th", {}, "Description"), h("th", {}, "Runs"), h("th", {}, "Last activity"), h("th", {}, "Created"))), body);
  app.append(h("h1", {}, "Experiments"), h("div.row", {}, search), table);
  let experiments = [];
  try {
    let cursor = null;
    do {  // all pages: names are listed in order, the page shows them all (search filters in place)
      const page = await get(`/v1/experiments?stats=true&limit=100${cursor ? "&cursor=" + enc(cursor) : ""}`);
      experiments = experiments.concat(page.experiments);
      cursor = page.next_cursor;
    } while (cursor);
  } catch (error) { app.append(errorBox(error)); return; }
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    body.replaceChildren(...experiments.filter((e) => !q || e.name.toLowerCase().includes(q)).map((e) =>
      h("tr", { dataset: { name: e.name } },
        h("td", {}, h("a", { href: `/experiments/${enc(e.name)}` }, e.name)),
        h("td.muted", {}, e.description || ""),
        h("td.num", {}, e.run_count ?? ""),
        h("td", {}, when(e.last_activity)),
        h("td", {}, when(e.created_at)))));
    if (!body.children.length) body.append(h("tr", {}, h("td.muted", { colSpan: 5 }, "no experiments")));
  };
  search.addEventListener("input", () => { setState({ q: search.value.trim() }); draw(); });
  draw();
}
