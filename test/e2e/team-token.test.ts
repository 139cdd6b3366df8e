/** `npm run token -- <team>`: a random token printed once, and the TEAM_TOKENS entry that admits it. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/core/config.ts";
import { makeTeamToken, runTokenScript, teamTokensVar } from "../support/team-token.ts";

describe("npm run token", () => {
  it("prints a fresh 32-byte token once and an entry TEAM_TOKENS accepts", () => {
    const first = makeTeamToken("team-a");
    const second = makeTeamToken("team-a");
    expect(Buffer.from(first.token, "base64url")).toHaveLength(32);
    expect(first.token).not.toBe(second.token);
    expect(first.digest).toBe(createHash("sha256").update(first.token).digest("hex"));
    expect(first.output.split(first.token)).toHaveLength(2);
    expect(first.output).toContain("npx wrangler secret put TEAM_TOKENS");
    const config = parseConfig({ TEAM_TOKENS: teamTokensVar(first, second) });
    expect(config.teamTokens?.get(first.digest)).toBe("team-a");
    expect(config.teamTokens?.get(second.digest)).toBe("team-a");
  });

  it("refuses a team id TEAM_TOKENS would refuse, and prints no token", () => {
    for (const args of [[], ["has space"], ["a".repeat(65)], ["team:x"], ["team-a", "extra"]]) {
      const run = runTokenScript(...args);
      expect(run.status, JSON.stringify(args)).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr).toContain("npm run token -- <team>");
    }
    expect(() => parseConfig({ TEAM_TOKENS: JSON.stringify({ ["0".repeat(64)]: "team:x" }) })).toThrow(/TEAM_TOKENS/);
  });
});
