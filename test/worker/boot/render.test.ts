// The pure renderers: template engine, save-time check, iPXE escaping and command-line checks.
import { describe, expect, it } from "vitest";
import { checkCmdline, CmdlineError, cmdlineValueGuard, ipxeText } from "../../../worker/render/ipxe.ts";
import { checkTemplate, renderTemplate, TemplateError } from "../../../worker/render/template.ts";

describe("templates", () => {
  const ctx = { host: { hostname: "n1", labels: { rack: "r1" } }, var: { n: 3, on: true, list: [1, "a"], nested: { k: "v" } }, secret: { S: "s" } };

  it("substitutes values, literals and the json filter; leaves other syntax alone", () => {
    expect(renderTemplate("a {{host.hostname}} {{ var.n }} {{ var.on }} {{ var.nested.k }} {{ var.list | json }} {{ '{{' }} }} ${X} {% raw %}", ctx)).toBe(
      'a n1 3 true v [1,"a"] {{ }} ${X} {% raw %}',
    );
  });

  it("is an error for unknown or unset variables, whole maps, syntax errors and prototype names", () => {
    const bad: [string, RegExp][] = [
      ["{{ var.nope }}", /variable "var.nope" is not set/],
      ["{{ secret.NOPE }}", /secret "NOPE" is not set/],
      ["{{ var.nested }}", /is a list or map/],
      ["{{ host.labels.constructor }}", /is not set/],
      ["{{ var.__proto__ }}", /is not set/],
      ["{{ hostname }}", /unknown variable "hostname"/],
      ["{{ host }}", /names a whole namespace/],
      ["{{ var.n | upper }}", /unknown filter "upper"/],
      ["{{ var.n | json | json }}", /only one filter/],
      ["{{ var.n ", /unclosed/],
      ["{{ }}", /empty/],
      ["{{ var.a b }}", /bad variable name/],
      ['{{ "unterminated }}', /bad string literal/],
    ];
    for (const [tpl, message] of bad) expect(() => renderTemplate(tpl, ctx), tpl).toThrow(message);
    expect(() => renderTemplate("x\n{{ var.nope }}", ctx)).toThrow(TemplateError);
    try {
      renderTemplate("x\n{{ var.nope }}", ctx);
    } catch (err) {
      expect((err as TemplateError).offset).toBe(2);
    }
  });

  it("checkTemplate: syntax and namespaces always; vars when known; secrets where allowed", () => {
    expect(checkTemplate("{{ host.hostname }} {{ var.ntp }} {{ secret.K }} {{ boot.seedUrl }} {{ host.labels.rack }}")).toEqual({
      ok: true,
      references: ["host.hostname", "var.ntp", "secret.K", "boot.seedUrl", "host.labels.rack"],
    });
    expect(checkTemplate("{{ var.ntp }} {{ var.other }}", { knownVars: ["ntp"] })).toEqual({ ok: false, errors: [{ message: 'unknown variable "var.other"', offset: 14 }] });
    expect(checkTemplate("{{ secret.K }}", { allowSecrets: false })).toMatchObject({ ok: false, errors: [{ message: 'secrets cannot be used here ("secret.K")' }] });
    expect(checkTemplate("{{ host.nope }} {{ site.slug.x }}")).toMatchObject({ ok: false, errors: [{ message: 'unknown variable "host.nope"' }, { message: 'unknown variable "site.slug.x"' }] });
    expect(checkTemplate("{{ broken")).toEqual({ ok: false, errors: [{ message: "unclosed {{", offset: 0 }] });
  });
});

describe("iPXE text and command lines", () => {
  it("ipxeText neutralises everything iPXE would read as syntax", () => {
    expect(ipxeText("Boot ${net0/mac} || reboot && x ; #1 -- fine")).toBe("Boot $\\{net0/mac} \\|| reboot \\&& x \\; \\#1 -- fine");
    expect(ipxeText("-n starts like an option")).toBe("\\-n starts like an option");
    expect(ipxeText("two\nlines\r\tand\x00nul")).toBe("two lines and nul");
  });

  it("checkCmdline collapses whitespace and refuses syntax tokens and control characters", () => {
    expect(checkCmdline("  console=ttyS0\n  quiet\tip=dhcp ")).toBe("console=ttyS0 quiet ip=dhcp");
    expect(checkCmdline("ds=nocloud;s=http://x/ a&&b")).toBe("ds=nocloud;s=http://x/ a&&b");
    for (const bad of ["a || b", "a && b", "a ; b", "a #comment", "a\x07b"]) expect(() => checkCmdline(bad), bad).toThrow(CmdlineError);
  });

  it("the value guard refuses newlines and settings expansion in substituted values only", () => {
    expect(cmdlineValueGuard("10.0.0.1", "var.ntp")).toBe("10.0.0.1");
    expect(() => cmdlineValueGuard("a\nb", "var.x")).toThrow(/control characters/);
    expect(() => cmdlineValueGuard("${ip}", "var.x")).toThrow(/iPXE would expand/);
  });
});
