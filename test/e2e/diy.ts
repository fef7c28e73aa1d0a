// The do-it-yourself baseline the performance target is measured against: what a site would build by hand with
// common tools. dnsmasq in proxyDHCP mode with its TFTP server (ipxe.efi / undionly.kpxe for PXE ROMs, an HTTP
// script URL for iPXE) and nginx serving a static tree with the same kernel, initrd and NoCloud files.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BootImage } from "./image.ts";
import type { TestNet } from "./netns.ts";
import { type Daemon, sleep, startDaemon, waitFor } from "./proc.ts";
import { dnsmasqBase } from "./sitedhcp.ts";

export interface DiyHost {
  hostname: string;
  mac: string;
  userData: string;
}

export interface Diy {
  readonly baseUrl: string;
  stop(): Promise<void>;
}

export async function startDiy(net: TestNet, image: BootImage, hosts: DiyHost[], cmdline: string, workDir: string): Promise<Diy> {
  const ip = net.ip.diy;
  const baseUrl = `http://${ip}`;
  const www = join(workDir, "diy-www");
  const tftp = join(workDir, "diy-tftp");
  for (const d of [www, tftp, join(www, "hosts")]) mkdirSync(d, { recursive: true });
  copyFileSync(image.kernel, join(www, "vmlinuz"));
  copyFileSync(image.initrd, join(www, "initrd.img"));
  copyFileSync("/usr/lib/ipxe/ipxe.efi", join(tftp, "ipxe.efi"));
  copyFileSync("/usr/lib/ipxe/undionly.kpxe", join(tftp, "undionly.kpxe"));
  // One script per MAC, as a hand-made setup would do it.
  writeFileSync(join(www, "boot.ipxe"), `#!ipxe\nchain ${baseUrl}/hosts/\${mac:hexhyp}.ipxe\n`);
  for (const host of hosts) {
    const seed = `${baseUrl}/h/${host.hostname}/nocloud/`;
    const script = [
      "#!ipxe",
      `kernel ${baseUrl}/vmlinuz initrd=initrd.img ${cmdline} ds=nocloud;s=${seed}`,
      `initrd --name initrd.img ${baseUrl}/initrd.img`,
      "boot",
      "",
    ].join("\n");
    writeFileSync(join(www, "hosts", `${host.mac.toLowerCase().replaceAll(":", "-")}.ipxe`), script);
    const nocloud = join(www, "h", host.hostname, "nocloud");
    mkdirSync(nocloud, { recursive: true });
    writeFileSync(join(nocloud, "meta-data"), `instance-id: diy-${host.hostname}\nlocal-hostname: ${host.hostname}\n`);
    writeFileSync(join(nocloud, "user-data"), host.userData);
    writeFileSync(join(www, "h", host.hostname, "events"), "ok\n");
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
  access_log ${nginxDir}/access.log;
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
  return { baseUrl, stop };
}
