// The query builder: rows of field / operator / value in AND/OR groups (metric-at-step and window
// fields included) that write the same filter text the filter box takes (docs/search.md).
import { h } from "./dom.js";

const OPERATORS = ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];

// A name goes in backquotes unless it is a bare name (docs/search.md, "Names").
export function quoteName(name) {
  return /^[\p{L}_][\p{L}\p{N}_-]*$/u.test(name) ? name : "`" + name.replaceAll("`", "``") + "`";
}

const quoted = (text) => "'" + String(text).trim().replaceAll("\\", "\\\\").replaceAll("'", "\\'") + "'";

export function literal(text) {
  const t = String(text).trim();
  if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t) || /^(true|false)$/i.test(t)) return t;
  return quoted(t);
}

// Fields whose values are always strings: a number typed there is quoted (`tags.team = 3` is an error).
const STRING_FIELD = /^(tags?\.|(attributes?\.|attr\.)?(run_id|name|experiment|source|parent|status|trial)$)/i;

export function condition({ field, op, value }) {
  if (!field) return "";
  const lit = STRING_FIELD.test(field) ? quoted : literal;
  if (op === "IS NULL" || op === "IS NOT NULL") return `${field} ${op}`;
  if (op === "IN" || op === "NOT IN") return `${field} ${op} (${String(value).split(",").map(lit).join(", ")})`;
  if (op === "LIKE" || op === "ILIKE") return `${field} ${op} ${quoted(value)}`;  // patterns are always strings
  return `${field} ${op} ${lit(value)}`;
}

// groups: [{join: "AND"|"OR", rows: [{field, op, value}]}], combined with `outer` ("AND"|"OR").
export function filterText(groups, outer = "AND") {
  const parts = groups.map((g) => g.rows.map(condition).filter(Boolean))
    .filter((c) => c.length)
    .map((conds, i, all) => {
      const joined = conds.join(` ${groups[i].join} `);
      return conds.length > 1 && all.length > 1 ? `(${joined})` : joined;
    });
  return parts.join(` ${outer} `);
}

// fields: [{value: "params.lr", label}], metrics: ["val_loss", ...]
export function queryBuilder({ fields, metrics, onApply }) {
  const groups = [{ join: "AND", rows: [{ field: "", op: "=", value: "" }] }];
  let outer = "AND";
  const root = h("div.panel", { id: "query-builder" });
  const preview = h("code", { id: "qb-preview" });

  const fieldSelect = (row, onChange) => {
    const select = h("select.qb-field", { onchange: (e) => { row.field = e.target.value; onChange(); } },
      h("option", { value: "" }, "field…"),
      ...fields.map((f) => h("option", { value: f.value, selected: f.value === row.field }, f.label || f.value)));
    return select;
  };

  const draw = () => {
    const text = filterText(groups, outer);
    preview.textContent = text || "(every run)";
    root.replaceChildren(
      h("div.row", {}, h("strong", {}, "Query builder"), "groups joined by",
        h("select.qb-outer", { onchange: (e) => { outer = e.target.value; draw(); } },
          ...["AND", "OR"].map((v) => h("option", { value: v, selected: v === outer }, v)))),
      ...groups.map((group, gi) => h("div.qb-group", { dataset: { group: gi } },
        h("div.row", {}, "rows joined by",
          h("select.qb-join", { onchange: (e) => { group.join = e.target.value; draw(); } },
            ...["AND", "OR"].map((v) => h("option", { value: v, selected: v === group.join }, v))),
          h("button.qb-add-row", { type: "button", onclick: () => { group.rows.push({ field: "", op: "=", value: "" }); draw(); } }, "+ condition"),
          h("button.qb-add-step", { type: "button", title: "a metric's value at one step",
            onclick: () => { group.rows.push({ field: `metrics.${quoteName(metrics[0] || "loss")}.at(0)`, op: "<", value: "" }); draw(); } }, "+ metric at step")),
        ...group.rows.map((row, ri) => h("div.row.qb-row", {},
          fieldSelect(row, draw),
          h("input.qb-field-text", { type: "text", value: row.field, size: 28, title: "field (editable: e.g. metrics.loss.at(10))",
            onchange: (e) => { row.field = e.target.value.trim(); draw(); } }),
          h("select.qb-op", { onchange: (e) => { row.op = e.target.value; draw(); } },
            ...OPERATORS.map((op) => h("option", { value: op, selected: op === row.op }, op))),
          h("input.qb-value", { type: "text", value: row.value, placeholder: "value", oninput: (e) => { row.value = e.target.value; preview.textContent = filterText(groups, outer) || "(every run)"; } }),
          h("button", { type: "button", title: "remove", onclick: () => { group.rows.splice(ri, 1); if (!group.rows.length) groups.splice(gi, 1); draw(); } }, "×"))))),
      h("div.row", {},
        h("button.qb-add-group", { type: "button", onclick: () => { groups.push({ join: "AND", rows: [{ field: "", op: "=", value: "" }] }); draw(); } }, "+ group"),
        h("button.primary.qb-apply", { type: "button", onclick: () => onApply(filterText(groups, outer)) }, "Use as filter"),
        preview));
  };
  draw();
  return root;
}
