/**
 * The original's response envelope: every simple tool answers with this JSON as its text,
 * all five keys always present, so assistants' habits with it carry over.
 */
export interface ContinuationOffer {
  continuation_id: string;
  note: string;
  remaining_turns: number;
}

export interface ToolOutput {
  status: string;
  content: string;
  content_type: "text" | "markdown" | "json";
  metadata: Record<string, unknown>;
  continuation_offer: ContinuationOffer | null;
}

export function toolOutput(output: Partial<ToolOutput> & Pick<ToolOutput, "status" | "content">): ToolOutput {
  return {
    content_type: "text",
    metadata: {},
    continuation_offer: null,
    ...output,
  };
}
