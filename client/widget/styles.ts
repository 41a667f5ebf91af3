/**
 * The widget's stylesheet (inside its shadow root). Light and dark: the system's choice
 * (`prefers-color-scheme`) unless the `theme` attribute says `light` or `dark`. Theme it from
 * the host page with CSS custom properties on `parley-chat` (they inherit through the shadow
 * boundary and win over both themes), e.g. `parley-chat { --parley-accent: #0a7; }`. Parts
 * (`::part(thread)`, `::part(message)` …) are exposed for deeper changes.
 */

/** The colours: [private name, public custom property `--parley-…`, light, dark]. */
const COLORS: ReadonlyArray<readonly [string, string, string, string]> = [
  ["bg", "bg", "#fff", "#16181d"],
  ["fg", "fg", "#1d2330", "#e6e9ef"],
  ["muted", "muted", "#525c6a", "#a3adbb"],
  ["border", "border", "#dfe3ea", "#323844"],
  ["panel", "panel-bg", "#f5f7fa", "#1d2027"],
  ["accent", "accent", "#3558d8", "#4566e0"],
  ["accent-fg", "accent-fg", "#fff", "#fff"],
  ["mine", "mine-bg", "var(--_accent)", "var(--_accent)"],
  ["mine-fg", "mine-fg", "var(--_accent-fg)", "var(--_accent-fg)"],
  ["theirs", "theirs-bg", "#eceff4", "#2b303b"],
  ["theirs-fg", "theirs-fg", "var(--_fg)", "var(--_fg)"],
  ["danger", "danger", "#b42318", "#ff8b80"],
  ["online", "online", "#12a150", "#3ccf7a"],
  ["ok", "ok-bg", "#e7f6ec", "#15331f"],
  ["warn", "warn-bg", "#fff4d6", "#3a3115"],
  ["focus", "focus", "#1a73e8", "#8ab4ff"],
];

/** One theme's private colours, each overridable by its `--parley-…` property. */
const palette = (theme: 2 | 3) =>
  `${COLORS.map((c) => `--_${c[0]}:var(--parley-${c[1]},${c[theme]})`).join(";")};color-scheme:${theme === 2 ? "light" : "dark"}`;

export const styles = `
:host{display:block;height:520px;position:relative;contain:content;container-type:inline-size;
--_font:var(--parley-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);
${palette(2)};--_radius:var(--parley-radius,14px);
font:14px/1.4 var(--_font);color:var(--_fg)}
:host([theme=dark]){${palette(3)}}
@media (prefers-color-scheme:dark){:host(:not([theme=light])){${palette(3)}}}
:host([hidden]),[hidden]{display:none!important}
*{box-sizing:border-box}
.sr{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
button{font:inherit;color:inherit;cursor:pointer}
:focus-visible{outline:2px solid var(--_focus);outline-offset:2px}
.root{display:flex;height:100%;background:var(--_bg);border:1px solid var(--_border);border-radius:var(--_radius);overflow:hidden}
.threads{flex:0 0 220px;display:flex;flex-direction:column;background:var(--_panel);border-right:1px solid var(--_border);min-width:0}
.threads h2{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--_muted);margin:14px 14px 6px}
.threads ul{list-style:none;margin:0;padding:4px;overflow-y:auto;flex:1}
.thread{display:flex;align-items:center;gap:10px;width:100%;text-align:start;background:none;border:0;border-radius:10px;padding:8px}
.thread:hover{background:color-mix(in srgb,var(--_fg) 6%,transparent)}
.thread[aria-current]{background:color-mix(in srgb,var(--_accent) 14%,transparent)}
.avatar{position:relative;flex:0 0 32px;height:32px;border-radius:50%;display:grid;place-items:center;font-weight:600;font-size:13px;background:color-mix(in srgb,var(--_accent) 22%,var(--_bg));color:var(--_fg)}
.meta .avatar{flex-basis:20px;height:20px;font-size:9px}
.avatar img{position:absolute;inset:0;width:100%;height:100%;border-radius:50%;object-fit:cover}
.dot{position:absolute;right:-1px;bottom:-1px;width:11px;height:11px;border-radius:50%;background:var(--_online);border:2px solid var(--_panel)}
.tmain{flex:1;min-width:0;display:flex;flex-direction:column}
.ttitle,.tpreview,.quote,.replying span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.ttitle{font-weight:600}.tpreview{color:var(--_muted);font-size:12.5px}
.threads .empty{padding:8px 10px;white-space:normal}
.badge{min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:var(--_accent);color:var(--_accent-fg);font-size:12px;font-weight:700;display:grid;place-items:center}
.chat{flex:1;display:flex;flex-direction:column;min-width:0}
header{display:flex;align-items:center;gap:8px;padding:10px 14px;border-bottom:1px solid var(--_border);min-height:50px}
header h2{font-size:15px;margin:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.presence{color:var(--_muted);font-size:12.5px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.toggle{display:none;border:1px solid var(--_border);background:var(--_bg);border-radius:8px;padding:3px 8px}
.banner{padding:6px 14px;font-size:13px;background:var(--_warn);border-bottom:1px solid var(--_border);display:flex;gap:10px;align-items:center}
.banner[data-state=caught-up]{background:var(--_ok)}
.banner[data-state=closed]{color:var(--_danger)}
.banner:empty{display:none}
.banner button,.status button{background:none;border:0;padding:0;text-decoration:underline;color:inherit}
.scroller{flex:1;overflow-y:auto;padding:10px 14px;display:flex;flex-direction:column}
.top{align-self:center;margin:4px 0 10px;color:var(--_muted);font-size:12.5px;text-align:center}
.top button{border:1px solid var(--_border);background:var(--_bg);border-radius:999px;padding:3px 12px}
.empty{font-size:14px;max-width:34ch}
p.empty{margin:24px 0}
ol{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:2px}
.day{align-self:center;margin:12px 0 2px;font-size:12px;font-weight:600;color:var(--_muted)}
.msg{display:flex;flex-direction:column;align-items:flex-start;max-width:80%}
.msg.mine{align-self:flex-end;align-items:flex-end}
.meta{font-size:12px;color:var(--_muted);margin:8px 4px 2px;display:flex;gap:6px;align-items:center}
.msg.cont .meta{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.sender{font-weight:600}
.body{margin:0;padding:7px 11px;border-radius:var(--_radius);background:var(--_theirs);color:var(--_theirs-fg);white-space:pre-wrap;overflow-wrap:anywhere}
.mine .body{background:var(--_mine);color:var(--_mine-fg)}
.msg[data-status=pending] .body{opacity:.65}
.msg[data-status=failed] .body{background:none;color:var(--_fg);border:1px dashed var(--_danger)}
.status,.seen{margin:2px 4px 0;font-size:12px;color:var(--_muted);display:flex;flex-wrap:wrap;gap:8px}
.msg[data-status=failed] .status{color:var(--_danger)}
.pill{align-self:center;position:relative;z-index:1;height:28px;margin:-36px 0 8px;border:0;border-radius:999px;padding:0 14px;background:var(--_accent);color:var(--_accent-fg);font-size:13px;font-weight:600;box-shadow:0 2px 8px #0003}
.line{display:flex;align-items:center;gap:4px;max-width:100%}
.mine .line{flex-direction:row-reverse}
.more,.quote,.chip,.menu button,.replying button{border:0;background:none;border-radius:8px;padding:1px 6px}
.more{opacity:0}
.msg:hover .more,.msg:focus-within .more{opacity:1}
@media (hover:none){.more{opacity:1}}
.edited,.quote,.replying{font-size:12px;color:var(--_muted)}
.body.deleted{background:none;color:var(--_muted);border:1px dashed var(--_border);font-style:italic}
.quote,.replying{border-inline-start:3px solid var(--_accent);border-radius:0;text-align:start;max-width:100%}
.reacts,.menu,.replying{display:flex;flex-wrap:wrap;gap:4px;align-items:center;margin:2px 0}
.chip,.menu{border:1px solid var(--_border);border-radius:12px}
.chip[aria-pressed=true]{border-color:var(--_accent);background:color-mix(in srgb,var(--_accent) 14%,var(--_bg))}
.menu{padding:3px;background:var(--_bg);box-shadow:0 2px 8px #0002}
.menu button:hover,.menu button:focus,.quote:hover{background:color-mix(in srgb,var(--_fg) 8%,transparent)}
.hl .body{outline:2px solid var(--_focus)}
.replying{flex-basis:100%;flex-wrap:nowrap;padding:0 6px}
.replying span{flex:1}
.typing{min-height:20px;padding:0 14px;font-size:12.5px;color:var(--_muted);font-style:italic}
form{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end;padding:8px 10px 10px;border-top:1px solid var(--_border)}
.note{flex-basis:100%;margin:0 4px;font-size:13px;color:var(--_muted)}
textarea{flex:1;resize:none;font:inherit;color:inherit;background:var(--_bg);border:1px solid var(--_border);border-radius:12px;padding:8px 10px;max-height:160px;min-height:38px}
.send{border:0;border-radius:12px;padding:8px 14px;background:var(--_accent);color:var(--_accent-fg);font-weight:600;min-height:38px}
.send:disabled,textarea:disabled{opacity:.5;cursor:default}
.root.no-threads .threads,.root.no-threads .toggle{display:none}
@container (max-width:540px){
.threads{display:none;position:absolute;inset:0 auto 0 0;width:min(260px,85%);z-index:2;box-shadow:0 0 24px #0003}
.root.open .threads{display:flex}
.toggle{display:inline-block}
}
`;
