// Printed after `npm test` (test/unit.mjs), pass or fail: the suites it leaves out, because their peers are Debian tools, a browser or root.
const suites = [
  ["npm run test:interop", "real Debian peers: atftp, tftp-hpa, cloud-init 22.4 / 25.1 extracted with dpkg -x"],
  ["npm run test:browser", "the status page in headless Chromium (Debian's chromium package)"],
  ["npm run test:e2e", "real firmware, iPXE and a real Debian OS under QEMU, in network namespaces (root)"],
];
console.log("\nnpm test did not run these suites:");
for (const [command, what] of suites) console.log(`  ${command.padEnd(22)} ${what}`);
console.log("One command installs their Debian packages and runs every suite (as root): bash .ci/run\n");
