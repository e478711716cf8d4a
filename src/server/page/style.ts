// The page's stylesheet, served as /ui/ledger.css (the CSP allows styles from the page's origin
// only, so no inline style: bar widths are the classes w0…w100 generated here).

const widths = Array.from({ length: 101 }, (_, i) => `.w${i}{width:${i}%}`).join('');

export const STYLE = `
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d8dde3;--bg:#f6f8fa;--ok:#1a7f37;--bad:#cf222e;--bar:#2f81f7;--res:#bf8700;font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg)}
body{margin:0;background:#fff}
.top{display:flex;align-items:center;gap:12px;padding:8px 16px;background:#24292f;color:#fff}
.top h1{font-size:18px;margin:0}.top .sub{color:#adbac7}.spacer{flex:1}#updated{color:#adbac7;min-width:12em;text-align:right}
#updated.error{color:#ff8182}
#filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;padding:8px 16px;background:var(--bg);border-bottom:1px solid var(--line)}
.layout{display:grid;grid-template-columns:minmax(0,3fr) minmax(320px,2fr);gap:16px;padding:12px 16px}
@media (max-width:1100px){.layout{grid-template-columns:1fr}}
.summary .state{font-weight:600;padding:1px 6px;border-radius:4px;color:#fff}.state.ok{background:var(--ok)}.state.bad{background:var(--bad)}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:4px 6px}
.ledger tbody.node{border-top:2px solid var(--line)}.node-head th{background:var(--bg);font-weight:400}
.node-link{font-weight:700;font-size:15px}.facts{color:var(--muted)}.room{color:var(--muted);font-size:12px}
.gpu-id{white-space:nowrap;width:7em}.bars{width:60%}
td .bar-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:0 14px}
.bar{display:grid;grid-template-columns:5.5em 1fr 9.5em;align-items:center;gap:6px;margin:1px 0}
.bar .dim{color:var(--muted);font-size:12px;overflow:hidden;text-overflow:ellipsis}.bar .val{font-variant-numeric:tabular-nums;font-size:12px}
.track{display:block;height:10px;background:#eaeef2;border-radius:5px;overflow:hidden}.fill{display:block;height:100%;background:var(--bar)}
.bar.over .fill{background:var(--bad)}.bar.over .val{color:var(--bad);font-weight:600}
a.pod,span.pod{display:inline-block;margin:1px 3px 1px 0;padding:0 6px;border-radius:10px;border:1px solid var(--line);text-decoration:none;color:var(--fg);font-size:12px}
.pod.bound{background:#ddf4ff;border-color:#54aeff}.pod.reserved{background:#fff8c5;border-color:var(--res)}.pod.exclusive{border-width:2px;border-color:var(--bad)}
.excl{font-size:10px;font-weight:700;color:var(--bad)}.badge{font-size:11px;padding:0 5px;border-radius:4px;background:#eaeef2}.badge.excl{background:#ffebe9;color:var(--bad)}.badge.idle{color:var(--ok)}
.problems{color:var(--bad);margin:4px 0;padding-left:18px}.problem{color:var(--bad)}.note,.more,.legend,.hint{color:var(--muted);font-size:12px}
.pages{margin:8px 0}.empty{padding:24px;color:var(--muted)}
aside{position:sticky;top:0;align-self:start;max-height:100vh;overflow:auto}
aside h2{font-size:16px;margin:8px 0}aside h3{font-size:14px;margin:10px 0 4px}
#detail{border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-height:4em;overflow-x:auto}
#detail .error{color:var(--bad);white-space:pre-wrap}
.gpu-card{border-top:1px solid var(--line);padding:4px 0}.pod-table td,.room-table td,.explain-table td{border-top:1px solid #eaeef2;font-size:12px}
.verdict{font-weight:600}.verdict.ok{color:var(--ok)}.verdict.bad{color:var(--bad)}
.explain-table tr.fits td:first-child{border-left:3px solid var(--ok)}.explain-table tr.no-fit td:first-child{border-left:3px solid var(--bad)}
.suggestion{color:var(--ok)}.reasons,.takes{margin:0;padding-left:16px}
#explain-form{margin-top:12px}#explain-form textarea{width:100%;box-sizing:border-box;font:12px/1.3 ui-monospace,monospace}
dl.inventory,dl.labels{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:12px}dd{margin:0}
${widths}
`;
