// edgeboot's progress reports in a preseed (worker/render/preseedHooks.ts): added when the operator has no early or
// late command, chained to theirs when they do (only that question's line changes), read the way d-i's
// debconf-set-selections reads lines (comments, blank lines, `\` continuations), and refused for an events URL that
// could not sit in a shell command. The commands are run by a real shell in test/interop/preseedHooks.test.ts.
import { describe, expect, it } from "vitest";
import { checkFile } from "../../../worker/render/files.ts";
import { earlyCommand, lateCommand, PreseedHookError, withProgressHooks } from "../../../worker/render/preseedHooks.ts";

const URL = "http://10.0.0.3:8067/h/aaa.bbb.ccc/events";
const OPTS = "edgeboot_t=; wget --version 2>/dev/null | grep -q 'GNU Wget' && edgeboot_t='-T 10 -t 2'";
const REPORT = (phase: string) => `wget -q $edgeboot_t -O /dev/null "${URL}?phase=${phase}" || true`;
const EARLY = `d-i preseed/early_command string ${OPTS}; ${REPORT("installing")}`;
const LATE = `d-i preseed/late_command string ${OPTS}; ${REPORT("installed")}`;
const HEADER = "# edgeboot: installer progress to the boot timeline (installing, installed)";

describe("preseed progress hooks", () => {
  it("a preseed without commands gets both, after its leading comments, every other line as written", () => {
    const doc = "#_preseed_V1\n# my site\n\nd-i netcfg/get_hostname string node-a\nd-i mirror/country string manual\n";
    expect(withProgressHooks(doc, URL)).toBe(`#_preseed_V1\n# my site\n\n${HEADER}\n${EARLY}\n${LATE}\nd-i netcfg/get_hostname string node-a\nd-i mirror/country string manual\n`);
  });

  it("never at the end: a last line ending in a continuation would swallow them", () => {
    const doc = "d-i passwd/user-fullname string ops \\";
    expect(withProgressHooks(doc, URL)).toBe(`${HEADER}\n${EARLY}\n${LATE}\nd-i passwd/user-fullname string ops \\`);
  });

  it("an empty preseed gets both lines", () => {
    expect(withProgressHooks("", URL)).toBe(`${HEADER}\n${EARLY}\n${LATE}\n`);
  });

  it("the operator's early command runs after the report and keeps its exit status", () => {
    const doc = "d-i a/b string x\nd-i preseed/early_command string anna-install foo;\nd-i c/d string y\n";
    expect(withProgressHooks(doc, URL)).toBe(`${HEADER}\n${LATE}\nd-i a/b string x\nd-i preseed/early_command string ${OPTS}; ${REPORT("installing")}; anna-install foo;\nd-i c/d string y\n`);
    expect(earlyCommand(URL, "  exit 3 ")).toBe(`${OPTS}; ${REPORT("installing")}; exit 3`);
  });

  it("the operator's late command runs in its own quoted shell, then installed or failed, then its status", () => {
    const theirs = `in-target sh -c 'echo hi > /etc/x'; # done`;
    expect(lateCommand(URL, theirs)).toBe(
      `sh -c 'in-target sh -c '\\''echo hi > /etc/x'\\''; # done'; edgeboot_rc=$?; ${OPTS}; if [ $edgeboot_rc = 0 ]; then ${REPORT("installed")}; else ${REPORT("failed")}; fi; exit $edgeboot_rc`,
    );
  });

  it("a continued late command is read as d-i joins it (comment lines dropped) and becomes one line in its place", () => {
    const doc = ["d-i a/b string x", "d-i preseed/late_command string \\", "   in-target true; \\", "# a comment d-i drops", "   echo done", "d-i c/d string y", ""].join("\n");
    expect(withProgressHooks(doc, URL)).toBe([HEADER, EARLY, "d-i a/b string x", `d-i preseed/late_command string ${lateCommand(URL, "in-target true; echo done")}`, "d-i c/d string y", ""].join("\n"));
  });

  it("only the last line of a question is edited (d-i keeps the last value); any owner, CRLF lines", () => {
    const doc = "d-i preseed/late_command string one\r\nmy-owner preseed/late_command string two\r\nd-i x/y string z\r\n";
    const out = withProgressHooks(doc, URL);
    expect(out.split("\n")).toEqual([HEADER, EARLY, "d-i preseed/late_command string one\r", `my-owner preseed/late_command string ${lateCommand(URL, "two")}`, "d-i x/y string z\r", ""]);
  });

  it("an empty operator command is replaced by the report alone", () => {
    expect(withProgressHooks("d-i preseed/late_command string\n", URL)).toBe(`${HEADER}\n${EARLY}\nd-i preseed/late_command string ${OPTS}; ${REPORT("installed")}\n`);
  });

  it("the result is still a valid preseed", () => {
    const doc = "#_preseed_V1\nd-i preseed/late_command string \\\n  in-target foo 'a b'\nd-i passwd/root-login boolean false\n";
    expect(checkFile("preseed", withProgressHooks(doc, URL))).toEqual([]);
  });

  it("refuses an events URL that could break out of the command's quotes", () => {
    for (const bad of ['http://x/"; reboot; "', "http://x/$(reboot)", "http://x/`id`", "http://x/a b", "ftp://x/events", "http://x/\\"]) {
      expect(() => withProgressHooks("", bad), bad).toThrow(PreseedHookError);
    }
    expect(() => withProgressHooks("", "https://api.example.com/boot/h/a-b_c.d-e.f_g/events")).not.toThrow();
  });
});
