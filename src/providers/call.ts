import type { Config } from "../core/config";
import type { Env } from "../core/env";
import type { BreakerSnapshot } from "../core/rpc/breaker";
import { breakerName, ProviderBreakers, type BreakerOutcome } from "./breaker";
import { descriptorOf } from "./catalog";
import type { GenerateOptions, ProviderConfig, ResolvedModel, ToolCategory } from "./descriptor";
import { redact } from "./http";
import { checkImages, withImagesRead } from "./index";
import { ModelResolutionError, NO_PROVIDER_MESSAGE, type ModelRegistry } from "./registry";
import { ProviderError, type GenerationProgress, type ModelRequest, type ModelResponse, type ProviderId, type ProviderRequest } from "./types";

/** What a model call needs from its request: bindings, config, and a way to defer work. */
export interface CallDeps {
  env: Env;
  /** Breakers are per team: one team's failures never pause a provider for another. */
  team: string;
  config: Config;
  registry: ModelRegistry;
  waitUntil(promise: Promise<unknown>): void;
}

export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (progress: GenerationProgress) => void;
}

/** Which model to call: a name or alias, or none (auto mode picks by the tool's category). */
export interface ModelChoice {
  requested?: string;
  category: ToolCategory;
}

export interface CallResult {
  response: ModelResponse;
  model: ResolvedModel;
  /** Set when auto mode skipped a provider whose breaker was open. */
  fallbackFrom?: { provider: ProviderId; reason: string };
}


const EMPTY_REPLY_FOLLOW_UP = "\n\n(Your previous reply was empty. Please answer the request above with a substantive response.)";
/** A second try for an empty reply is pointless with less time than this left. */
const MIN_FOLLOW_UP_BUDGET_MS = 1_000;

/** The model a call will use, chosen once: the budgets of the request are planned for it. */
export interface ChosenModel {
  model: ResolvedModel;
  /** Set when auto mode skipped a provider whose breaker was open. */
  fallbackFrom?: CallResult["fallbackFrom"];
}

/**
 * Chooses the model for a call: the one named (or aliased), or auto mode's pick for the tool's
 * category, skipping providers whose circuit breaker is open. Throws ModelResolutionError, or
 * ProviderError when every provider is paused.
 */
export async function chooseModel(deps: CallDeps, choice: ModelChoice): Promise<ChosenModel> {
  const requested = choice.requested?.trim();
  if (requested && requested.toLowerCase() !== "auto") return { model: deps.registry.resolve(requested) };
  if (deps.registry.providers.length === 0) throw new ModelResolutionError(NO_PROVIDER_MESSAGE);
  const breakers = new ProviderBreakers(deps);
  const candidates = deps.registry.candidatesFor(choice.category);
  await breakers.load(candidates.map((candidate) => breakerName(deps.team, candidate)));
  const skipped = new Map<ProviderConfig, BreakerSnapshot | undefined>();
  const model = candidates.find((candidate) => {
    const name = breakerName(deps.team, candidate);
    if (!breakers.isOpen(name)) return true;
    skipped.set(candidate.provider, breakers.snapshot(name));
    return false;
  });
  if (!model) {
    if (skipped.size > 0) throw allPaused(skipped);
    throw new ModelResolutionError(`No allowed model is available for auto mode (${choice.category}). Check the *_ALLOWED_MODELS settings.`);
  }
  const [first] = skipped;
  return { model, ...(first ? { fallbackFrom: { provider: first[0].id, reason: pausedReason(first[0], first[1]) } } : {}) };
}

/**
 * Calls the chosen model: checks its images against the model's limits (before any of their
 * bytes is read), passes its provider's circuit breaker, reads the images within the isolate's
 * image budget, calls with retries within one deadline, asks once more after an empty reply, and
 * reports the outcome to the breaker off the hot path. Throws ProviderError.
 */
export async function callModel(deps: CallDeps, chosen: ChosenModel, request: ModelRequest, options: CallOptions = {}): Promise<CallResult> {
  const { model } = chosen;
  const provider = model.provider.id;
  const { images, ...rest } = request;
  // Images first: a request refused before sending is no probe.
  checkImages(deps.registry, model, images);
  const breakers = new ProviderBreakers(deps);
  const breaker = breakerName(deps.team, model);
  await breakers.load([breaker]);
  const admission = await breakers.admit(breaker);
  if (!admission.admitted) throw breakerOpen(model, admission.snapshot);
  let outcome: BreakerOutcome = "neutral";
  try {
    const response = await withImagesRead(images, options.signal, (read) =>
      generateAnswer(deps, model, { ...rest, ...(read ? { images: read } : {}) }, options),
    );
    outcome = "reply";
    return { response, model, ...(chosen.fallbackFrom ? { fallbackFrom: chosen.fallbackFrom } : {}) };
  } catch (thrown) {
    // Cancelled while waiting for room for its images: nothing was sent.
    const error = !(thrown instanceof ProviderError) && options.signal?.aborted ? new ProviderError(provider, "aborted", `The call to ${model.provider.label} was cancelled.`) : thrown;
    if (!(error instanceof ProviderError)) throw error;
    outcome = outcomeOf(error);
    // Every provider error leaves through here: no configured key reaches the assistant, wherever it was echoed.
    const secrets = deps.registry.providers.map((p) => p.apiKey);
    throw new ProviderError(error.provider, error.kind, explained(model, error, redact(error.message, secrets)), error.status, error.retryAfterMs);
  } finally {
    breakers.report(breaker, outcome, admission.probe);
  }
}

/**
 * The message the assistant gets: which model failed and what it can do next. Provider modules
 * know the upstream's words and the final errors' remedies (a key to check, a request too long);
 * the remedy of a transient fault or a refusal is the same for every provider, so it is added here.
 */
function explained(model: ResolvedModel, error: ProviderError, message: string): string {
  const name = model.capabilities.modelName;
  const named = message.includes(name) ? message : `Calling ${name} failed: ${message}`;
  const sentence = named.endsWith(".") ? named : `${named}.`;
  switch (error.kind) {
    case "retryable": {
      const wait = error.retryAfterMs !== undefined ? Math.max(1, Math.ceil(error.retryAfterMs / 1_000)) : undefined;
      return wait !== undefined
        ? `${sentence} ${model.provider.label} asked to wait ${wait} s: try again in about ${wait} s, or choose a model from another provider.`
        : `${sentence} This is usually temporary: try again in a moment, or choose a model from another provider.`;
    }
    case "safety":
      return `${sentence} Rephrase the request, or choose a model from another provider.`;
    default:
      return named;
  }
}

/**
 * Only what a retry might fix counts against a provider; any answer, even a refusal, shows it is
 * up. An empty reply or a safety block still came from the model itself.
 */
function outcomeOf(error: ProviderError): BreakerOutcome {
  switch (error.kind) {
    case "retryable":
      return "failure";
    case "aborted":
    case "breaker_open":
      return "neutral";
    case "final":
      return "refusal";
    case "safety":
    case "empty":
      return "reply";
  }
}

/** One deadline covers the call and the follow-up after an empty reply. */
async function generateAnswer(deps: CallDeps, model: ResolvedModel, request: ProviderRequest, options: CallOptions): Promise<ModelResponse> {
  const { deadlineMs, maxAttempts } = deps.config.providerCall;
  const deadlineAt = Date.now() + deadlineMs;
  const { generate } = descriptorOf(model.provider.id);
  const generateOptions = (): GenerateOptions => ({
    signal: options.signal,
    onProgress: options.onProgress,
    policy: { deadlineMs: Math.max(1, deadlineAt - Date.now()), maxAttempts },
    ai: deps.env.AI,
  });

  const first = await generate(model.provider, model, request, generateOptions());
  if (first.text.trim()) return first;
  if (first.finishReason !== "stop" || deadlineAt - Date.now() < MIN_FOLLOW_UP_BUDGET_MS) throw emptyReply(model, first, false);
  const second = await generate(model.provider, model, { ...request, prompt: request.prompt + EMPTY_REPLY_FOLLOW_UP }, generateOptions());
  const usage = {
    inputTokens: first.usage.inputTokens + second.usage.inputTokens,
    outputTokens: first.usage.outputTokens + second.usage.outputTokens,
    totalTokens: first.usage.totalTokens + second.usage.totalTokens,
  };
  if (second.text.trim()) return { ...second, usage };
  throw emptyReply(model, second, true);
}

function emptyReply(model: ResolvedModel, response: ModelResponse, twice: boolean): ProviderError {
  const who = `${model.provider.label} model ${model.capabilities.modelName}`;
  const message =
    response.finishReason === "length"
      ? `${who} spent its whole output budget without answering (finish reason "length"). Use a lower thinking mode or a shorter request.`
      : twice
        ? `${who} answered with nothing, twice. Try again or choose another model.`
        : `${who} answered with nothing (finish reason "${response.finishReason}"). Try again or choose another model.`;
  return new ProviderError(model.provider.id, "empty", message);
}

function breakerOpen(model: ResolvedModel, snapshot: BreakerSnapshot | undefined): ProviderError {
  const { provider } = model;
  const retryAfterMs = snapshot?.retryAt !== undefined ? Math.max(0, snapshot.retryAt - Date.now()) : undefined;
  return new ProviderError(
    provider.id,
    "breaker_open",
    `${model.capabilities.modelName} was not called. ${pausedReason(provider, snapshot)} Choose a model from another provider meanwhile.`,
    undefined,
    retryAfterMs,
  );
}

function allPaused(skipped: Map<ProviderConfig, BreakerSnapshot | undefined>): ProviderError {
  const [first] = skipped.keys();
  const reasons = [...skipped].map(([provider, snapshot]) => pausedReason(provider, snapshot)).join(" ");
  return new ProviderError(first?.id ?? "google", "breaker_open", `No provider can take the call now. ${reasons}`);
}

/** Why a provider is skipped and when it will be tried again. */
function pausedReason(provider: ProviderConfig, snapshot: BreakerSnapshot | undefined): string {
  const { label } = provider;
  const failures = snapshot?.consecutiveFailures ?? 0;
  const why = `Calls to ${label} are paused: its circuit breaker opened after ${failures} consecutive failure${failures === 1 ? "" : "s"}.`;
  if (snapshot?.state === "half_open") {
    return `${why} A trial call is checking whether it has recovered; it will be retried once that call succeeds.`;
  }
  if (snapshot?.retryAt === undefined) return why;
  const seconds = Math.max(1, Math.ceil((snapshot.retryAt - Date.now()) / 1_000));
  return `${why} It will be retried in about ${seconds} s (at ${new Date(snapshot.retryAt).toISOString()}).`;
}
