// The Ignition config the Flatcar and Fedora CoreOS recipes share (spec 3.4.0, the subset render/ignition.ts checks):
// the host's name, an SSH key for `core`, and a unit that reports `booted` to edgeboot once the network is up (which
// also closes the boot session's secret window, worker/boot/README.md "Events").
export const IGNITION_TEMPLATE = JSON.stringify(
  {
    ignition: { version: "3.4.0" },
    passwd: { users: [{ name: "core", sshAuthorizedKeys: ["{{ var.coreSshKey }}"] }] },
    storage: { files: [{ path: "/etc/hostname", mode: 420, overwrite: true, contents: { source: "data:,{{ host.hostname }}" } }] },
    systemd: {
      units: [
        {
          name: "edgeboot-booted.service",
          enabled: true,
          contents:
            "[Unit]\nDescription=Report the boot to edgeboot\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/curl -fsS --retry 5 -X POST {{ boot.eventsUrl }}?phase=booted\n\n[Install]\nWantedBy=multi-user.target\n",
        },
      ],
    },
  },
  null,
  2,
);
