/**
 * secaudit end to end: the real worker under `wrangler dev`, the fake upstream as the expert,
 * the official SDK client.
 */
import { describe, expect, it } from "vitest";
import { callTool, connectMcp, textOf, useMcpEnvironment } from "../../support/mcp-session.ts";

const env = useMcpEnvironment();

const EXPERT_JSON = {
  status: "audit_complete",
  risk_level: "high",
  findings: [
    {
      severity: "high",
      owasp: "A01 Broken Access Control",
      location: "orders.js:2",
      description: "any user reads any order",
      exploit_scenario: "change the id in the URL",
      fix: "check the order's owner",
    },
  ],
  compliance_gaps: ["PCI DSS 7: access to cardholder data is not restricted"],
  summary: "One access-control hole.",
};

const ORDERS = { path: "/srv/orders.js", content: "app.get('/orders/:id', async (req, res) => {\n  res.json(await db.order(req.params.id));\n});\n" };

function step(n: number, total: number, more: boolean, extra: Record<string, unknown> = {}) {
  return { step: `Audit step ${n}`, step_number: n, total_steps: total, next_step_required: more, findings: `audit finding ${n}`, model: "flash", ...extra };
}

function lastExpertPrompt(): string {
  return textOf(env.upstream.requests().at(-1)?.body);
}

describe("secaudit: a full audit", () => {
  it("pauses between steps, resumes on a new connection, and asks the expert with the audit's settings", async () => {
    const first = await env.call(
      "secaudit",
      step(1, 3, true, {
        security_scope: "Express API for orders, public internet, card data",
        threat_level: "high",
        compliance_requirements: ["PCI DSS", "GDPR"],
        audit_focus: "owasp",
        severity_filter: "high",
        relevant_files: [ORDERS],
      }),
    );
    expect(first.isError).toBe(false);
    expect(first.json).toMatchObject({
      status: "pause_for_security_audit",
      step_number: 1,
      secaudit_required: true,
      security_audit_status: { relevant_files: 1, vulnerabilities_by_severity: {} },
    });
    expect(first.json?.warning).toBeUndefined();
    expect(first.json?.required_actions).toContain("Map the application: stack, entry points, trust boundaries, sensitive data and how it flows");
    expect(first.json?.metadata).toEqual({ tool_name: "secaudit" });
    expect(env.upstream.requests()).toHaveLength(0);
    const id: string = first.json?.continuation_id;

    const other = await connectMcp(env.worker.mcpUrl);
    const second = await callTool(
      other,
      "secaudit",
      step(2, 3, true, { continuation_id: id, confidence: "low", issues_found: [{ severity: "high", description: "no owner check on orders" }] }),
    );
    await other.close();
    expect(second.json).toMatchObject({
      status: "pause_for_security_audit",
      continuation_id: id,
      security_audit_status: { issues_found: 1, vulnerabilities_by_severity: { high: 1 } },
    });
    expect(second.json?.required_actions).toContain("Trace untrusted input to queries, commands, templates, file paths and outbound requests");

    env.upstream.fault({ replyText: "```json\n" + JSON.stringify(EXPERT_JSON) + "\n```" });
    // Without the bridge the paused steps kept only the file's path: the final step, which shows it to the expert, sends it again.
    const last = await env.call("secaudit", step(3, 3, false, { continuation_id: id, confidence: "high", relevant_files: [ORDERS] }));
    expect(last.isError).toBe(false);
    expect(last.json).toMatchObject({
      status: "calling_expert_analysis",
      expert_analysis: EXPERT_JSON,
      security_audit_complete: true,
      complete_security_audit: { steps_taken: 3, relevant_files: ["/srv/orders.js"], issues_found: [{ severity: "high", description: "no owner check on orders" }] },
      metadata: { tool_name: "secaudit", model_used: "flash", provider_used: "google" },
    });

    const prompt = lastExpertPrompt();
    for (const n of [1, 2, 3]) expect(prompt).toContain(`Step ${n}: audit finding ${n}`);
    expect(prompt).toContain("=== SECURITY AUDIT REQUEST ===\nAudit step 1");
    expect(prompt).toContain("[HIGH] no owner check on orders");
    expect(prompt).toContain("=== SECURITY SCOPE ===\nExpress API for orders, public internet, card data");
    expect(prompt).toContain("=== THREAT LEVEL ===\nhigh");
    expect(prompt).toContain("=== AUDIT FOCUS ===\nowasp");
    expect(prompt).toContain("=== COMPLIANCE REQUIREMENTS ===\nPCI DSS\nGDPR");
    expect(prompt).toContain("=== SEVERITY FILTER ===\nReport only issues of severity critical, high.");
    expect(prompt).toContain("=== CODE TO AUDIT ===");
    expect(prompt).toContain("   2│   res.json(await db.order(req.params.id));");
    // The system prompt is secaudit's own.
    expect(prompt).toContain("exploit_scenario");
  });

  it("audits comprehensively at a medium threat level when the settings are left out", async () => {
    env.upstream.fault({ replyText: JSON.stringify(EXPERT_JSON) });
    await env.call("secaudit", step(1, 1, false, { security_scope: "orders API", relevant_files: [ORDERS] }));
    const prompt = lastExpertPrompt();
    expect(prompt).toContain("=== THREAT LEVEL ===\nmedium");
    expect(prompt).toContain("=== AUDIT FOCUS ===\ncomprehensive");
    expect(prompt).toContain("=== SEVERITY FILTER ===\nReport issues of every severity.");
    expect(prompt).not.toContain("=== COMPLIANCE REQUIREMENTS ===");
  });
});

describe("secaudit: a first step without a scope", () => {
  it("runs, with a warning that says what to add, and only at step 1", async () => {
    const first = await env.call("secaudit", step(1, 2, true, { relevant_files: [ORDERS] }));
    expect(first.isError).toBe(false);
    expect(first.json?.status).toBe("pause_for_security_audit");
    expect(first.json?.warning).toContain("security_scope");
    const second = await env.call("secaudit", step(2, 2, true, { continuation_id: first.json?.continuation_id }));
    expect(second.json?.warning).toBeUndefined();
  });

  it("warns on a single final step too", async () => {
    const done = await env.call("secaudit", step(1, 1, false, { confidence: "certain" }));
    expect(done.json?.status).toBe("security_analysis_complete");
    expect(done.json?.warning).toContain("security_scope");
  });
});

describe("secaudit: skip and expert rules", () => {
  it("finishes without the expert when the agent is certain, with the original's skip status", async () => {
    const certain = await env.call("secaudit", step(1, 1, false, { security_scope: "orders API", relevant_files: [ORDERS], confidence: "certain" }));
    expect(certain.json).toMatchObject({
      status: "security_analysis_complete",
      skip_expert_analysis: true,
      expert_analysis: { status: "skipped_due_to_certain_audit_confidence" },
      complete_security_audit: { steps_taken: 1, confidence_level: "certain" },
    });
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("finishes locally when use_assistant_model is false", async () => {
    const alone = await env.call("secaudit", step(1, 1, false, { security_scope: "orders API", relevant_files: [ORDERS], use_assistant_model: false }));
    expect(alone.json).toMatchObject({ status: "local_work_complete", security_audit_complete: true });
    expect(env.upstream.requests()).toHaveLength(0);
  });

  it("completes locally when there is nothing for an expert to check", async () => {
    const thin = await env.call("secaudit", step(1, 1, false, { security_scope: "orders API" }));
    expect(thin.json?.status).toBe("local_work_complete");
    expect(env.upstream.requests()).toHaveLength(0);
  });
});
