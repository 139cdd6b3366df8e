/**
 * How a model's context window is shared (the original's allocation): under 300K tokens, 60 %
 * for content and 40 % kept for the reply; from 300K, 80/20. Content is split between files
 * (30 % / 40 %) and conversation history (50 % / 40 %).
 */
export interface TokenBudget {
  content: number;
  response: number;
  files: number;
  history: number;
}

const LARGE_CONTEXT = 300_000;

export function budgetFor(contextWindow: number): TokenBudget {
  const large = contextWindow >= LARGE_CONTEXT;
  const content = Math.floor(contextWindow * (large ? 0.8 : 0.6));
  return {
    content,
    response: contextWindow - content,
    files: Math.floor(content * (large ? 0.4 : 0.3)),
    history: Math.floor(content * (large ? 0.4 : 0.5)),
  };
}
