// Prometheus text exposition (format 0.0.4) without a client library: counters and gauges with labels.
// Each part registers what it counts on the one registry built in main.ts; /metrics renders it.
export type Labels = Record<string, string>;

export interface Counter {
  inc(labels?: Labels, by?: number): void;
  // The series for fixed labels, resolved once: for per-packet paths, where building the label key each time shows.
  labels(labels: Labels): { inc(by?: number): void };
}
export interface Gauge {
  set(value: number, labels?: Labels): void;
}

type Series = { name: string; help: string; type: "counter" | "gauge"; values: Map<string, { labels: Labels; value: number }>; read?: () => number };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labelKey = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k]!)}"`)
    .join(",");

export class MetricsRegistry {
  #series = new Map<string, Series>();

  #register(name: string, help: string, type: Series["type"]): Series {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    const existing = this.#series.get(name);
    if (existing) {
      if (existing.type !== type) throw new Error(`metric ${name} already registered as ${existing.type}`);
      return existing;
    }
    const series: Series = { name, help, type, values: new Map() };
    this.#series.set(name, series);
    return series;
  }

  counter(name: string, help: string): Counter {
    const s = this.#register(name, help, "counter");
    return {
      inc(labels = {}, by = 1) {
        if (!(by >= 0)) return; // counters only go up
        const key = labelKey(labels);
        const cur = s.values.get(key);
        if (cur) cur.value += by;
        else s.values.set(key, { labels: { ...labels }, value: by });
      },
      labels(labels) {
        const key = labelKey(labels);
        const fixed = { ...labels };
        return {
          inc(by = 1) {
            if (!(by >= 0)) return;
            // A map lookup per call (the key is already built), so the series appears only once counted.
            const cur = s.values.get(key);
            if (cur) cur.value += by;
            else s.values.set(key, { labels: fixed, value: by });
          },
        };
      },
    };
  }

  gauge(name: string, help: string): Gauge {
    const s = this.#register(name, help, "gauge");
    return {
      set(value, labels = {}) {
        s.values.set(labelKey(labels), { labels: { ...labels }, value });
      },
    };
  }

  // A gauge read when /metrics is rendered, from the same state /healthz reads: the two can never disagree.
  gaugeFn(name: string, help: string, read: () => number): void {
    this.#register(name, help, "gauge").read = read;
  }

  render(): string {
    const out: string[] = [];
    for (const s of this.#series.values()) {
      if (s.read) {
        let v: number;
        try {
          v = s.read();
        } catch {
          v = NaN; // a failing reader must not break the whole page
        }
        out.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} gauge`, `${s.name} ${Number.isFinite(v) ? v : 0}`);
        continue;
      }
      out.push(`# HELP ${s.name} ${s.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${s.name} ${s.type}`);
      for (const { labels, value } of s.values.values()) {
        const key = labelKey(labels);
        out.push(`${s.name}${key ? `{${key}}` : ""} ${Number.isFinite(value) ? value : 0}`);
      }
    }
    return `${out.join("\n")}\n`;
  }
}

// The relay's own series, registered once in main.ts and passed to the DHCP, TFTP and HTTP parts.
export function relayMetrics(reg: MetricsRegistry) {
  return {
    dhcpOffers: reg.counter("edgeboot_dhcp_offers_total", "proxyDHCP replies sent, by client architecture, port and kind"),
    dhcpIgnored: reg.counter("edgeboot_dhcp_ignored_total", "DHCP packets received and not answered, by reason"),
    tftpTransfers: reg.counter("edgeboot_tftp_transfers_total", "TFTP read transfers, by result"),
    tftpBytes: reg.counter("edgeboot_tftp_bytes_total", "TFTP payload bytes sent in completed or aborted transfers"),
    tftpErrors: reg.counter("edgeboot_tftp_errors_total", "TFTP ERROR packets sent, by code"),
    chainFetches: reg.counter("edgeboot_chain_fetches_total", "per-host chain fetches from the API, by result"),
    httpRequests: reg.counter("edgeboot_http_requests_total", "relay HTTP requests, by route and status"),
  };
}
export type RelayMetrics = ReturnType<typeof relayMetrics>;
