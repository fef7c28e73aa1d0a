// The do-it-yourself baseline the performance target is measured against: what a site would build by hand with
// common tools. dnsmasq in proxyDHCP mode with its TFTP server (ipxe.efi / undionly.kpxe for PXE ROMs, an HTTP
// script URL for iPXE) and nginx serving a static tree with the same kernel, initrd (and for the real OS, the
// same squashfs) and NoCloud files; callbacks to /h/<host>/events are answered 200 and timed in nginx's log.
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BootImage } from "./image.ts";
import type { TestNet } from "./netns.ts";
import type { OsImage } from "./osimage.ts";
import { type Daemon, sleep, startDaemon, waitFor } from "./proc.ts";
import { dnsmasqBase } from "./sitedhcp.ts";

export interface DiyHost {
  hostname: string;
  mac: string;
  userData: string;
  /** Boot the real OS (kernel, initrd, squashfs under /os/) with this kernel line instead of the busybox image. */
  os?: { cmdline: (seed: string) => string; metaData?: string };
}

export interface DiyRequest {
  /** Epoch ms when nginx finished it. */
  at: number;
  status: number;
  bytes: number;
  seconds: number;
}

export interface Diy {
  readonly baseUrl: string;
  /** Requests nginx logged whose request line starts with `prefix` (e.g. `POST /h/x/events?phase=booted`). */
  requests(prefix: string): DiyRequest[];
  stop(): Promise<void>;
}

/** Hard links when the work dir shares the cache's file system (the squashfs is ~100 MB), copies otherwise. */
function place(src: string, dst: string): void {
  if (existsSync(dst)) return;
  try {
    linkSync(src, dst);
  } catch {
    copyFileSync(src, dst);
  }
}

export async function startDiy(net: TestNet, image: BootImage, hosts: DiyHost[], cmdline: string, workDir: string, osImage?: OsImage): Promise<Diy> {
  const ip = net.ip.diy;
  const baseUrl = `http://${ip}`;
  const www = join(workDir, "diy-www");
  const tftp = join(workDir, "diy-tftp");
  for (const d of [www, tftp, join(www, "hosts")]) mkdirSync(d, { recursive: true });
  copyFileSync(image.kernel, join(www, "vmlinuz"));
  copyFileSync(image.initrd, join(www, "initrd.img"));
  if (osImage) {
    mkdirSync(join(www, "os"), { recursive: true });
    place(osImage.kernel, join(www, "os", "vmlinuz"));
    place(osImage.initrd, join(www, "os", "initrd.img"));
    place(osImage.rootfs, join(www, "os", "root.squashfs"));
  }
  copyFileSync("/usr/lib/ipxe/ipxe.efi", join(tftp, "ipxe.efi"));
  copyFileSync("/usr/lib/ipxe/undionly.kpxe", join(tftp, "undionly.kpxe"));
  // One script per MAC, as a hand-made setup would do it.
  writeFileSync(join(www, "boot.ipxe"), `#!ipxe\nchain ${baseUrl}/hosts/\${mac:hexhyp}.ipxe\n`);
  for (const host of hosts) {
    const seed = `${baseUrl}/h/${host.hostname}/nocloud/`;
    if (host.os && !osImage) throw new Error(`DIY host ${host.hostname} boots the real OS but no OS image was given`);
    const files = host.os ? `${baseUrl}/os` : baseUrl;
    const line = host.os ? host.os.cmdline(seed) : `${cmdline} ds=nocloud;s=${seed}`;
    const script = ["#!ipxe", `kernel ${files}/vmlinuz initrd=initrd.img ${line}`, `initrd --name initrd.img ${files}/initrd.img`, "boot", ""].join("\n");
    writeFileSync(join(www, "hosts", `${host.mac.toLowerCase().replaceAll(":", "-")}.ipxe`), script);
    const nocloud = join(www, "h", host.hostname, "nocloud");
    mkdirSync(nocloud, { recursive: true });
    writeFileSync(join(nocloud, "meta-data"), host.os?.metaData ?? `instance-id: diy-${host.hostname}\nlocal-hostname: ${host.hostname}\n`);
    writeFileSync(join(nocloud, "user-data"), host.userData);
  }

  const nginxDir = join(workDir, "diy-nginx");
  mkdirSync(nginxDir, { recursive: true });
  const conf = join(nginxDir, "nginx.conf");
  writeFileSync(
    conf,
    `user root root;
worker_processes 1;
daemon off;
pid ${nginxDir}/nginx.pid;
error_log ${nginxDir}/error.log;
events { worker_connections 64; }
http {
  log_format timed '$msec "$request" $status $body_bytes_sent $request_time';
  access_log ${nginxDir}/access.log timed;
  default_type application/octet-stream;
  sendfile on;
  client_body_temp_path ${nginxDir}/body;
  proxy_temp_path ${nginxDir}/proxy;
  fastcgi_temp_path ${nginxDir}/fastcgi;
  uwsgi_temp_path ${nginxDir}/uwsgi;
  scgi_temp_path ${nginxDir}/scgi;
  server {
    listen ${ip}:80;
    root ${www};
    # Callbacks (busybox init's GET, cloud-init phone_home's POST): answered, and timed in the access log.
    location ~ ^/h/[^/]+/events$ { return 200 "ok"; }
  }
}
`,
  );
  const daemons: Daemon[] = [];
  const stop = async () => {
    await Promise.all(daemons.map((d) => d.stop()));
  };
  try {
    daemons.push(startDaemon({ name: "diy-nginx", ns: net.ns.diy, cmd: "nginx", args: ["-p", nginxDir, "-c", conf, "-e", join(nginxDir, "error.log")], log: join(workDir, "diy-nginx.log") }));
    const lan = net.cidr.diy.replace(/\/24$/, "");
    daemons.push(
      startDaemon({
        name: "diy-dnsmasq",
        ns: net.ns.diy,
        cmd: "dnsmasq",
        log: join(workDir, "diy-dnsmasq.log"),
        args: [
          ...dnsmasqBase(workDir, "diy-dnsmasq"),
          `--dhcp-range=${lan},proxy,255.255.255.0`,
          "--dhcp-userclass=set:ipxe,iPXE",
          '--pxe-service=tag:!ipxe,X86-64_EFI,"diy",ipxe.efi',
          '--pxe-service=tag:!ipxe,x86PC,"diy",undionly.kpxe',
          `--pxe-service=tag:ipxe,X86-64_EFI,"diy",${baseUrl}/boot.ipxe`,
          `--pxe-service=tag:ipxe,x86PC,"diy",${baseUrl}/boot.ipxe`,
          "--enable-tftp",
          `--tftp-root=${tftp}`,
        ],
      }),
    );
    await waitFor("the DIY web server", 10_000, async () => {
      for (const d of daemons) if (d.child.exitCode !== null) throw new Error(`${d.name} exited early (see ${workDir})`);
      const res = await fetch(`${baseUrl}/boot.ipxe`).catch(() => undefined);
      return res?.ok ? true : undefined;
    });
    await sleep(300); // dnsmasq binds quickly; give it a moment rather than probing DHCP
  } catch (err) {
    await stop();
    throw err;
  }
  const requests = (prefix: string) => {
    const log = join(nginxDir, "access.log");
    if (!existsSync(log)) return [];
    return readFileSync(log, "utf8")
      .split("\n")
      .map((l) => /^(\d+\.\d+) "([^"]*)" (\d+) (\d+) (\d+\.\d+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && m[2]!.startsWith(prefix))
      .map((m) => ({ at: Math.round(Number(m[1]) * 1000), status: Number(m[3]), bytes: Number(m[4]), seconds: Number(m[5]) }));
  };
  return { baseUrl, requests, stop };
}
