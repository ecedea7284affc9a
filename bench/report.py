"""bench/report.py: results.json and the self-contained HTML report of bench/run.

Histograms: switchyard-bench writes each second's latencies as the sparse log-linear buckets of
bench/histogram.h ({"unit":"ns","sub_bits":8,"counts":[[index,count],...]}). merge() adds
them and percentile() reads them exactly as LatencyHistogram::percentile() does, so a window
of seconds (steady state, during the migration) gets true percentiles, not averages of
per-second percentiles. bucket_high() must match bench/histogram.cpp.

Re-render a report from its results: python3 bench/report.py results.json > report.html

The HTML report has no external resource: inline SVG charts (throughput, latency percentiles,
errors over time with the admin actions marked, per-schema hold bars) and tables.
"""
import html
import json
import math
import re

NGINX_ORIGIN = """
worker_processes 1;
daemon off;
pid {dir}/{name}.pid;
error_log {dir}/{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    location / {{ default_type text/plain; return 200 "{body}"; }}
  }}
}}
"""

# ---- histograms -------------------------------------------------------------------------------


def bucket_high(index, sub_bits=8):
    if index < (1 << sub_bits):
        return index
    half = 1 << (sub_bits - 1)
    s = index // half - 1
    m = index - s * half
    return ((m + 1) << s) - 1


def merge(hists):
    counts = {}
    lo, hi = None, 0
    for h in hists:
        if not h or not h.get("counts"):
            continue
        for i, c in h["counts"]:
            counts[i] = counts.get(i, 0) + c
        lo = h["min"] if lo is None else min(lo, h["min"])
        hi = max(hi, h["max"])
    return {"unit": "ns", "sub_bits": 8, "min": lo or 0, "max": hi,
            "counts": sorted([i, c] for i, c in counts.items())}


def count(h):
    return sum(c for _, c in h["counts"])


def percentile(h, p):
    total = count(h)
    if total == 0:
        return 0
    rank = min(max(math.ceil(p / 100.0 * total), 1), total)
    seen = 0
    for i, c in h["counts"]:
        seen += c
        if seen >= rank:
            return min(bucket_high(i, h.get("sub_bits", 8)), h["max"])
    return h["max"]


def window_stats(seconds, lo, hi):
    """Requests answered in seconds [lo, hi): counts and percentiles in ms."""
    sel = [s for i, s in enumerate(seconds) if lo <= i < hi]
    h = merge(s["hist"] for s in sel)
    n = max(1e-9, min(hi, len(seconds)) - lo)
    out = {"from_s": lo, "to_s": hi, "ok": sum(s["ok"] for s in sel),
           "failed": sum(s["failed"] for s in sel),
           "conn_errors": sum(s["conn_errors"] for s in sel),
           "rps": round(sum(s["ok"] + s["failed"] for s in sel) / n, 1)}
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        out[name + "_ms"] = round(percentile(h, p) / 1e6, 3)
    out["max_ms"] = round(h["max"] / 1e6, 3)
    return out


# ---- peers' tool output ------------------------------------------------------------------------

UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNIT[m.group(2)] if m else None


def parse_tool_output(kind, out):
    res = {"kind": kind}
    if kind == "wrk":
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        res["rps"] = float(m.group(1)) if m else None
        m = re.search(r"(\d+) requests in", out)
        res["requests"] = int(m.group(1)) if m else None
        for name, pat in (("p50_ms", r"^\s+50%\s+(\S+)"), ("p99_ms", r"^\s+99%\s+(\S+)")):
            m = re.search(pat, out, re.M)
            res[name] = _ms(m.group(1)) if m else None
        m = re.search(r"^\s+Latency\s+(\S+)", out, re.M)
        res["mean_ms"] = _ms(m.group(1)) if m else None
        m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        res["failed"] = int(m.group(1)) if m else 0
    else:
        m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
        res["rps"] = float(m.group(1)) if m else None
        m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", out)
        if m:
            res["requests"] = int(m.group(2))
            res["failed"] = int(m.group(4))
        m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", out)
        res["mean_ms"] = _ms(m.group(3)) if m else None
    return res


# ---- results.json -------------------------------------------------------------------------------


def summarise_run(run):
    if "load" not in run:
        return run
    load = run["load"]
    secs = load["seconds"]
    series = []
    for i, s in enumerate(secs):
        series.append({"t": i, "ok": s["ok"], "failed": s["failed"],
                       "conn_errors": s["conn_errors"], "timeouts": s["timeouts"],
                       "redirects": s["redirects"], "p50_ms": s["latency_ms"]["p50"],
                       "send_lag_ms": s.get("send_lag_ms", 0),
                       "p99_ms": s["latency_ms"]["p99"], "max_ms": s["latency_ms"]["max"],
                       "codes": s["codes"], "hist": s["hist"]})
    warm = int(math.ceil(load["warmup_s"]))
    # Phases end before the last second in which requests were sent: it is only partly loaded.
    sending = [i for i, s in enumerate(secs) if s["sent"] > 0]
    end = sending[-1] if sending and sending[-1] > warm else len(secs)
    events = run.get("events", [])
    upgrade = [e for e in events if e["action"] == "upgrade"]
    phases = {}
    first = min((e["at_s"] for e in events), default=None)
    # Steady: the whole seconds before the first action, at least one (an action due at 2 s
    # may be stamped 1.95 s once re-based on the load's clock).
    if first is not None and first > warm:
        phases["steady"] = window_stats(secs, warm, max(warm + 1, int(first)))
    else:
        phases["steady"] = window_stats(secs, warm, end)
    if upgrade:
        u = upgrade[0]
        stop = u["end_s"] if u["end_s"] is not None else end
        phases["during_migration"] = window_stats(secs, int(u["at_s"]), int(math.ceil(stop)))
        if stop < end - 1:
            phases["after_migration"] = window_stats(secs, int(math.ceil(stop)), end)
    for e in events:
        if e["action"] != "upgrade" and e["end_s"] is not None:
            phases[f"during_{e['action']}@{e['at_s']:.0f}s"] = window_stats(
                secs, int(e["at_s"]), max(int(e["at_s"]) + 1, int(math.ceil(e["end_s"]))))
    holds = []
    for schema, r in sorted(run.get("schemas", {}).items()):
        if r["start_s"] is not None and r["end_s"] is not None:
            holds.append({"schema": schema, "start_s": r["start_s"], "end_s": r["end_s"],
                          "hold_ms": round((r["end_s"] - r["start_s"]) * 1000, 1)})
    total = load["total"]
    codes = dict(total["codes"])
    return {
        "mode": run["mode"], "url": run.get("url"), "argv": load.get("argv"),
        "total": {"sent": total["sent"], "ok": total["ok"], "failed": total["failed"],
                  "conn_errors": total["conn_errors"], "timeouts": total["timeouts"],
                  "redirects_followed": total["redirects"], "status": total["status"],
                  "retried": total.get("retried", 0),
                  "codes": codes, "latency_ms": total["latency_ms"],
                  "rps": load["rps"], "generator_cpu_s": load["cpu_s"],
                  "measured_s": load["measured_s"],
                  "conn_error_samples": load.get("conn_error_samples", [])},
        "phases": phases, "events": events, "schemas": holds,
        "action_errors": run.get("action_errors", []), "tools": run.get("tools", {}),
        "seconds": series, "hist_total": total["hist"], "full_seconds": end,
    }


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return round(a / b, 3)


def build_results(sc, runs, machine):
    out = {"scenario": sc, "machine": machine, "runs": {}}
    for mode, run in runs.items():
        out["runs"][mode] = summarise_run(run)
    sy = out["runs"].get("switchyard", {})
    hp = out["runs"].get("haproxy")
    comparison = []
    if hp and "total" in hp and "total" in sy:
        def held(r):
            hs = [h["hold_ms"] for h in r["schemas"]]
            return (max(hs) if hs else None), (sum(hs) / len(hs) if hs else None)
        sy_max, sy_mean = held(sy)
        hp_max, hp_mean = held(hp)
        dm_sy = sy["phases"].get("during_migration", {})
        dm_hp = hp["phases"].get("during_migration", {})
        rows = [("failed requests", sy["total"]["failed"], hp["total"]["failed"]),
                ("failed during the migration", dm_sy.get("failed"), dm_hp.get("failed")),
                ("schema held / disabled, max ms", sy_max, hp_max),
                ("schema held / disabled, mean ms", sy_mean, hp_mean),
                ("p99 during the migration, ms", dm_sy.get("p99_ms"), dm_hp.get("p99_ms")),
                ("max during the migration, ms", dm_sy.get("max_ms"), dm_hp.get("max_ms")),
                ("p99 steady, ms", sy["phases"]["steady"]["p99_ms"],
                 hp["phases"]["steady"]["p99_ms"]),
                ("throughput, req/s", sy["total"]["rps"], hp["total"]["rps"])]
        comparison = [{"metric": m, "switchyard": a, "haproxy": b, "ratio": ratio(a, b)}
                      for m, a, b in rows]
    out["peer_comparison"] = comparison
    tools = []
    for kind, t in sy.get("tools", {}).items():
        tools.append(tool_row(kind, t))
    out["tool_comparison"] = tools
    return out


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def tool_row(kind, t):
    """switchyard-bench vs wrk / h2load over interleaved rounds: medians, and the median of the
    per-round ratios (a round's two runs share their noise)."""
    rounds = t["rounds"]

    def per_core(x):
        return x["requests"] / x["cpu_s"] if x.get("requests") and x.get("cpu_s") else None

    def r3(v):
        return round(v, 3) if v is not None else None
    rps_ratios = [ratio(r["bench"]["rps"], r["tool"].get("rps")) for r in rounds]
    core_ratios = [ratio(per_core(r["bench"]), per_core(r["tool"])) for r in rounds]
    b_core = median(per_core(r["bench"]) for r in rounds)
    t_core = median(per_core(r["tool"]) for r in rounds)
    return {"tool": kind, "rounds": len(rounds), "round_duration_s": t["round_duration_s"],
            "tool_rps": median(r["tool"].get("rps") for r in rounds),
            "bench_rps": median(r["bench"]["rps"] for r in rounds),
            "rps_ratio": r3(median(rps_ratios)), "rps_ratios": rps_ratios,
            "tool_rps_per_core": round(t_core) if t_core else None,
            "bench_rps_per_core": round(b_core) if b_core else None,
            "per_core_ratio": r3(median(core_ratios)), "per_core_ratios": core_ratios,
            "tool_p50_ms": median(r["tool"].get("p50_ms") for r in rounds),
            "tool_p99_ms": median(r["tool"].get("p99_ms") for r in rounds),
            "bench_p50_ms": median(r["bench"]["p50_ms"] for r in rounds),
            "bench_p99_ms": median(r["bench"]["p99_ms"] for r in rounds),
            "tool_mean_ms": median(r["tool"].get("mean_ms") for r in rounds),
            "bench_mean_ms": median(r["bench"].get("mean_ms") for r in rounds),
            "tool_failed": sum(r["tool"].get("failed") or 0 for r in rounds),
            "bench_failed": sum(r["bench"]["failed"] for r in rounds),
            "tool_argv": t["tool_argv"], "bench_argv": t["bench_argv"]}


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:,}"


def summary_lines(results):
    lines = [f"scenario {results['scenario']['name']}"]
    for mode, r in results["runs"].items():
        if "total" not in r:
            lines.append(f"  {mode}: FAILED: {r.get('error')}")
            continue
        t = r["total"]
        lines.append(f"  {mode}: {t['ok']:,} ok, {t['failed']:,} failed ({t['codes']}), "
                     f"{t['rps']:.0f} req/s, p50 {t['latency_ms']['p50']} ms, p99 "
                     f"{t['latency_ms']['p99']} ms, max {t['latency_ms']['max']} ms")
        for name, ph in r["phases"].items():
            lines.append(f"    {name:<24} {ph['rps']:8.0f} req/s  failed {ph['failed']:>6}  "
                         f"p50 {ph['p50_ms']:8.3f}  p99 {ph['p99_ms']:8.3f}  max {ph['max_ms']:9.3f} ms")
        if r["schemas"]:
            hs = [h["hold_ms"] for h in r["schemas"]]
            lines.append(f"    schemas held/disabled: {len(hs)}, mean {sum(hs) / len(hs):.0f} ms, "
                         f"max {max(hs):.0f} ms")
        for e in r["action_errors"]:
            lines.append(f"    ACTION ERROR: {e}")
        for e in t["conn_error_samples"]:
            lines.append(f"    connection error: {e}")
    for row in results["peer_comparison"]:
        lines.append(f"  {row['metric']:<34} switchyard {fmt(row['switchyard']):>10}  haproxy "
                     f"{fmt(row['haproxy']):>10}  ratio {fmt(row['ratio'])}")
    for t in results["tool_comparison"]:
        lines.append(f"  switchyard-bench vs {t['tool']} ({t['rounds']} interleaved rounds, medians): "
                     f"req/s {fmt(t['bench_rps'])} / {fmt(t['tool_rps'])}, paired ratio "
                     f"{fmt(t['rps_ratio'])}x {t['rps_ratios']}; requests per CPU-second "
                     f"{fmt(t['bench_rps_per_core'])} / {fmt(t['tool_rps_per_core'])}, paired "
                     f"ratio {fmt(t['per_core_ratio'])}x {t['per_core_ratios']}")
    return lines


# ---- HTML ---------------------------------------------------------------------------------------

COLORS = {"switchyard": "#1f77b4", "haproxy": "#d62728"}
SERIES_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def svg_chart(chart_id, title, series, events, ylabel, log=False, width=900, height=260):
    """A line chart: |series| = [(name, color, dash, [(x, y), ...])]; |events| = [(x, label)]."""
    legend_rows = max(1, math.ceil(len(series) / 5))  # five legend entries per row
    height += 12 * (legend_rows - 1)
    pad_l, pad_r, pad_t, pad_b = 60, 20, 28, 36 + 12 * (legend_rows - 1)
    xs = [x for _, _, _, pts in series for x, _ in pts] + [x for x, _ in events]
    ys = [y for _, _, _, pts in series for _, y in pts if y is not None]
    xmax = max(xs + [1])
    if log:
        pos = [y for y in ys if y > 0] or [1]
        ylo, yhi = math.log10(min(pos)), math.log10(max(pos))
        ylo, yhi = math.floor(ylo), math.ceil(yhi + 1e-9)
        if yhi <= ylo:
            yhi = ylo + 1
    else:
        ylo, yhi = 0, max(ys + [1]) * 1.1

    def X(x):
        return pad_l + (width - pad_l - pad_r) * x / xmax

    def Y(y):
        if log:
            y = math.log10(max(y, 10 ** ylo))
        return height - pad_b - (height - pad_t - pad_b) * (y - ylo) / (yhi - ylo)

    out = [f'<svg class="chart" data-chart="{chart_id}" xmlns="http://www.w3.org/2000/svg" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           f'<text x="{pad_l}" y="16" class="title">{html.escape(title)}</text>',
           f'<line class="axis" x1="{pad_l}" y1="{height - pad_b}" x2="{width - pad_r}" '
           f'y2="{height - pad_b}"/>',
           f'<line class="axis" x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{height - pad_b}"/>']
    ticks = ([10 ** e for e in range(int(ylo), int(yhi) + 1)] if log
             else [yhi * k / 4 for k in range(5)])
    for t in ticks:
        y = Y(t)
        out.append(f'<line class="grid" x1="{pad_l}" y1="{y:.1f}" x2="{width - pad_r}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{pad_l - 4}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{fmt(round(t, 3) if t < 100 else round(t))}</text>')
    step = next((s for s in (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600) if s >= xmax / 12), 1200)
    for x in range(0, int(xmax) + 1, step):
        out.append(f'<text class="tick" x="{X(x):.1f}" y="{height - pad_b + 14}" '
                   f'text-anchor="middle">{x}</text>')
    out.append(f'<text class="tick" x="{width - pad_r}" y="{height - pad_b + 26}" '
               f'text-anchor="end">seconds</text>')
    out.append(f'<text class="tick" x="12" y="{pad_t - 8}">{html.escape(ylabel)}</text>')
    for i, (x, label) in enumerate(events):
        out.append(f'<line class="marker" data-action="{html.escape(label)}" x1="{X(x):.1f}" '
                   f'y1="{pad_t}" x2="{X(x):.1f}" y2="{height - pad_b}"/>')
        out.append(f'<text class="marker-label" x="{X(x) + 3:.1f}" y="{pad_t + 10 + 11 * (i % 3)}">'
                   f'{html.escape(label)}</text>')
    for k, (name, color, dash, pts) in enumerate(series):
        pts = [(x, y) for x, y in pts if y is not None]
        if not pts:
            continue
        coords = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in pts)
        dashed = 'stroke-dasharray="5,3" ' if dash else ""
        out.append(f'<polyline class="series" data-series="{html.escape(name)}" '
                   f'data-points="{len(pts)}" fill="none" stroke="{color}" stroke-width="1.6" '
                   f'{dashed}points="{coords}"/>')
        lx = pad_l + 10 + 160 * (k % 5)
        ly = height - 12 * (legend_rows - k // 5)
        out.append(f'<rect x="{lx}" y="{ly}" width="10" height="4" fill="{color}"/>'
                   f'<text class="legend" x="{lx + 14}" y="{ly + 5}">{html.escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def svg_holds(runs, width=900):
    """Per-schema hold (Switchyard) / disabled (peer) time, one bar per schema and run."""
    rows = []
    for mode, r in runs.items():
        for h in r.get("schemas", []):
            rows.append((h["schema"], mode, h["hold_ms"]))
    if not rows:
        return ""
    schemas = sorted({s for s, _, _ in rows})
    modes = [m for m in runs if runs[m].get("schemas")]
    vmax = max(v for _, _, v in rows) or 1
    bar_h = 6 if len(schemas) > 20 else 10
    row_h = bar_h * len(modes) + 4
    height = 40 + row_h * len(schemas)
    pad_l = 150
    out = [f'<svg class="chart" data-chart="holds" xmlns="http://www.w3.org/2000/svg" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           '<text x="10" y="16" class="title">Per schema: held by Switchyard (requests wait) vs '
           'disabled by plain SQL (requests fail), ms</text>']
    for i, s in enumerate(schemas):
        y0 = 28 + i * row_h
        out.append(f'<text class="tick" x="{pad_l - 6}" y="{y0 + row_h - 4}" '
                   f'text-anchor="end">{html.escape(s[-12:])}</text>')
        for k, m in enumerate(modes):
            v = next((v for s2, m2, v in rows if s2 == s and m2 == m), None)
            if v is None:
                continue
            w = (width - pad_l - 80) * v / vmax
            out.append(f'<rect class="bar" data-schema="{html.escape(s)}" data-run="{m}" '
                       f'x="{pad_l}" y="{y0 + k * bar_h}" width="{max(w, 1):.1f}" '
                       f'height="{bar_h - 1}" fill="{COLORS.get(m, "#777")}"/>')
            out.append(f'<text class="tick" x="{pad_l + w + 4:.1f}" y="{y0 + k * bar_h + bar_h - 1}">'
                       f'{v:,.0f}</text>')
    for k, m in enumerate(modes):
        out.append(f'<rect x="{pad_l + 160 * k}" y="{height - 10}" width="10" height="6" '
                   f'fill="{COLORS.get(m, "#777")}"/><text class="legend" '
                   f'x="{pad_l + 160 * k + 14}" y="{height - 4}">{m}</text>')
    out.append("</svg>")
    return "\n".join(out)


def table(headers, rows, cls=""):
    out = [f'<table class="{cls}"><tr>' + "".join(f"<th>{html.escape(h)}</th>" for h in headers)
           + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(fmt(c) if not isinstance(c, str) else c)}</td>"
                                    for c in r) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right} th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
.chart{display:block;margin:10px 0;background:#fff;border:1px solid #ddd}
.chart .title{font-size:13px;font-weight:600} .chart .tick,.chart .legend{font-size:10px;fill:#444}
.chart .axis{stroke:#333} .chart .grid{stroke:#eee}
.chart .marker{stroke:#888;stroke-dasharray:3,3} .chart .marker-label{font-size:10px;fill:#555}
.ok{color:#2a2} .bad{color:#c22} code{background:#f4f4f4;padding:1px 4px}
"""


def render_html(results):
    sc = results["scenario"]
    # Charts stop before the last, partly loaded second (sending stopped within it).
    runs = {m: dict(r, seconds=r["seconds"][:r.get("full_seconds")], scenario_mode=sc["load"]["mode"])
            for m, r in results["runs"].items() if "seconds" in r}
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>bench: "
             f"{html.escape(sc['name'])}</title><style>{CSS}</style></head><body>",
             f"<h1>Switchyard bench: {html.escape(sc['name'])}</h1>",
             f"<p>{html.escape(sc.get('description', ''))}</p>"]
    t = sc["topology"]
    L = sc["load"]
    directory = ("an Open-Xchange configdb (profile ox, logins user@context)"
                 if t.get("profile") == "ox" else "Switchyard's own tables")
    parts.append(f"<p>{t['tenants']:,} tenants over {t['schemas']} schemas "
                 f"({t['schema_rows']:,} rows each) in {directory}; pools "
                 + ", ".join(f"{p['name']} v{p['version']} × {p['members']} "
                             f"({p['latency']} ms)" for p in t["pools"])
                 + f"; load {L['mode']} loop "
                 + (f"at {L['rate']:g} req/s" if L["mode"] == "open" else f"with {L['connections']} connections")
                 + f", {L['protocol']}{' + TLS' if L['tls'] else ''}, tenants {L['tenants']['distribution']}"
                 f", tenant in {L['tenant_in']}; machine: {results['machine']['cores']} cores.</p>")
    for mode, r in results["runs"].items():
        if "total" not in r:
            parts.append(f"<p class='bad'>{mode} run failed: {html.escape(str(r.get('error')))}</p>")
    # Summary table per run and phase.
    rows = []
    for mode, r in runs.items():
        for name, ph in r["phases"].items():
            rows.append([mode, name, f"{ph['from_s']}–{ph['to_s']} s", ph["rps"], ph["ok"],
                         ph["failed"], ph["p50_ms"], ph["p99_ms"], ph["p999_ms"], ph["max_ms"]])
    parts.append("<h2>Summary</h2>")
    for mode, r in runs.items():
        tot = r["total"]
        cls = "ok" if tot["failed"] == 0 else "bad"
        parts.append(f"<p><b>{mode}</b>: <span class='{cls}'>{tot['failed']:,} failed</span> of "
                     f"{tot['ok'] + tot['failed']:,} requests; codes "
                     f"{html.escape(json.dumps(tot['codes']))}; statuses "
                     f"{html.escape(json.dumps(tot['status']))}; {tot['conn_errors']} connection "
                     f"errors, {tot['timeouts']} timeouts; {tot['redirects_followed']:,} redirects "
                     f"followed; {tot['retried']:,} h2 requests refused unprocessed and retried."
                     f"</p>")
        if tot["conn_error_samples"]:
            parts.append("<ul class='bad'>" + "".join(
                f"<li>{html.escape(e)}</li>" for e in tot["conn_error_samples"]) + "</ul>")
    parts.append(table(["run", "phase", "window", "req/s", "ok", "failed", "p50 ms", "p99 ms",
                        "p99.9 ms", "max ms"], rows, "phases"))
    if results["peer_comparison"]:
        parts.append("<h2>With and without Switchyard</h2><p>The same load and the same "
                     "migration: Switchyard's <code>upgrade schemata</code> (requests of a schema "
                     "are held while it moves) vs HAProxy in front of the same pools with the "
                     "schemas disabled, updated, moved and enabled by plain SQL (users get "
                     "errors while their schema is disabled)"
                     + (": OX's own statements on the configdb (context.enabled = 0 with "
                        "reason_id 1431655765, changeserver on context_server2db_pool, enable)"
                        if t.get("profile") == "ox" else "")
                     + ". Ratio = switchyard / haproxy.</p>")
        parts.append(table(["metric", "switchyard", "haproxy (plain SQL)", "ratio"],
                           [[r["metric"], r["switchyard"], r["haproxy"], r["ratio"]]
                            for r in results["peer_comparison"]], "peers"))
    if results["tool_comparison"]:
        parts.append("<h2>The load generator against wrk / h2load</h2><p>Interleaved rounds "
                     "against the same Switchyard, closed loop with the same connections; "
                     "medians, and the median of the per-round ratios (ours / theirs). Per core "
                     "= requests per CPU-second of the client process.</p>")
        parts.append(table(["tool", "its req/s", "switchyard-bench req/s", "ratio",
                            "its req/CPU-s", "ours", "ratio", "its mean ms", "our mean ms",
                            "its p50 ms", "our p50 ms", "its p99 ms", "our p99 ms"],
                           [[t["tool"], t["tool_rps"], t["bench_rps"], t["rps_ratio"],
                             t["tool_rps_per_core"], t["bench_rps_per_core"], t["per_core_ratio"],
                             t["tool_mean_ms"], t["bench_mean_ms"], t["tool_p50_ms"],
                             t["bench_p50_ms"], t["tool_p99_ms"], t["bench_p99_ms"]]
                            for t in results["tool_comparison"]], "tools"))
    # Charts.
    events = []
    for mode, r in runs.items():
        for e in r["events"]:
            events.append((e["at_s"], f"{mode}: {e['action']}"))
            if e["end_s"] is not None and e["end_s"] - e["at_s"] > 1:
                events.append((e["end_s"], f"{mode}: {e['action']} end"))
    parts.append("<h2>Over time</h2>")

    def ser(key, label, runs_=runs, scale=1):
        return [(f"{m} {label}", COLORS.get(m, "#777"), m != "switchyard",
                 [(s["t"] + 0.5, s[key] * scale if s[key] is not None else None)
                  for s in r["seconds"]]) for m, r in runs_.items()]

    thr = []
    for m, r in runs.items():
        thr.append((f"{m} answered/s", COLORS.get(m), m != "switchyard",
                    [(s["t"] + 0.5, s["ok"] + s["failed"]) for s in r["seconds"]]))
    parts.append(svg_chart("throughput", "Throughput (answered requests per second)", thr,
                           events, "req/s"))
    lat = []
    for k, (m, r) in enumerate(runs.items()):
        for j, (key, label) in enumerate((("p50_ms", "p50"), ("p99_ms", "p99"), ("max_ms", "max"))):
            lat.append((f"{m} {label}", SERIES_COLORS[(3 * k + j) % len(SERIES_COLORS)],
                        m != "switchyard",
                        [(s["t"] + 0.5, s[key] if s[key] > 0 else None) for s in r["seconds"]]))
    if any(r["scenario_mode"] == "open" for r in runs.values()):
        for m, r in runs.items():
            lat.append((f"{m} client send lag", "#999999", True,
                        [(s["t"] + 0.5, s.get("send_lag_ms") if s.get("send_lag_ms", 0) > 0.1 else None)
                         for s in r["seconds"]]))
    parts.append(svg_chart("latency", "Latency per second from the intended send time (ms, log); "
                           "grey: the generator's own send lag", lat, events, "ms", log=True))
    err = []
    for k, (m, r) in enumerate(runs.items()):
        err.append((f"{m} failed/s", COLORS.get(m), m != "switchyard",
                    [(s["t"] + 0.5, s["failed"]) for s in r["seconds"]]))
        err.append((f"{m} conn errors/s", SERIES_COLORS[4 + k], m != "switchyard",
                    [(s["t"] + 0.5, s["conn_errors"]) for s in r["seconds"]]))
    parts.append(svg_chart("errors", "Failed requests and connection errors per second", err,
                           events, "per s"))
    holds = svg_holds(runs)
    if holds:
        parts.append("<h2>Per-schema hold time</h2>" + holds)
    for mode, r in runs.items():
        if r["events"]:
            parts.append(f"<h2>Actions ({mode})</h2>")
            parts.append(table(["action", "at s", "end s", "what happened"],
                               [[e["action"], e["at_s"], e["end_s"], e["detail"]]
                                for e in r["events"]], "events"))
        if r["argv"]:
            parts.append(f"<p>Load command ({mode}): <code>{html.escape(' '.join(r['argv']))}</code></p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


if __name__ == "__main__":
    import sys
    with open(sys.argv[1]) as f:
        sys.stdout.write(render_html(json.load(f)))
