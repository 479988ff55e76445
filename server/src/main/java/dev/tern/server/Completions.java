package dev.tern.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.TernException;
import dev.tern.engine.ContextShift;
import dev.tern.engine.FinishReason;
import dev.tern.engine.QueueFullException;
import dev.tern.engine.Request;
import dev.tern.engine.RequestHandle;
import dev.tern.engine.RequestListener;
import dev.tern.engine.RequestOutput;
import dev.tern.engine.RequestResult;
import dev.tern.engine.Scheduler;
import dev.tern.engine.TokenLogprob;
import dev.tern.model.LoraAdapter;
import dev.tern.sampling.TriggeredGrammar;
import io.javalin.http.Context;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * POST /v1/chat/completions and /v1/completions: checks the request, submits its {@code n}
 * choices to the scheduler and answers with one JSON body or a stream of server-sent events
 * ending in {@code data: [DONE]}. A client that goes away cancels its requests: mid-stream when a
 * write fails, while a whole answer is computed when {@link ClientProbe} sees the connection closed.
 */
final class Completions {
    private final Scheduler scheduler;
    private final PromptBuilder prompts;
    private final ResponseFormat format;
    private final ServerMetrics metrics;
    private final String modelName;
    /** LoRA adapters a request selects by giving its name as the model. */
    private final Map<String, LoraAdapter> adapters;
    /** The scales of the adapters applied to every request, and a request's own ({@code lora}). */
    private final LoraScales scales;
    private final ContextShift contextShift;
    private int active;

    Completions(Scheduler scheduler, PromptBuilder prompts, ResponseFormat format, ServerMetrics metrics, String modelName,
                Map<String, LoraAdapter> adapters, LoraScales scales, ContextShift contextShift) {
        this.contextShift = contextShift;
        this.scheduler = scheduler;
        this.prompts = prompts;
        this.format = format;
        this.metrics = metrics;
        this.modelName = modelName;
        this.adapters = adapters;
        this.scales = scales;
    }

    /** One piece of news from the scheduler about choice {@code index}. */
    /** One of: a choice's new output, its end, or its prompt's log-probabilities. */
    private record Event(int index, RequestOutput output, RequestResult result, List<TokenLogprob> prompt, long nanos) {
    }

    void handle(Context ctx, boolean chat) {
        handle(ctx, Json.parseObject(ctx.bodyAsBytes()), chat, Dialect.OPENAI);
    }

    /** Answers {@code body} (a chat or text completion request) written in {@code dialect}. */
    void handle(Context ctx, ObjectNode body, boolean chat, Dialect dialect) {
        synchronized (this) {
            active++;
        }
        try {
            answer(ctx, body, chat, dialect);
        } finally {
            synchronized (this) {
                active--;
                notifyAll();
            }
        }
    }

    /** Waits (at most {@code millis}) until no completion is being answered; false on timeout. */
    synchronized boolean awaitIdle(long millis) throws InterruptedException {
        long end = System.currentTimeMillis() + millis;
        while (active > 0) {
            long left = end - System.currentTimeMillis();
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return true;
    }

    private void answer(Context ctx, ObjectNode body, boolean chat, Dialect dialect) {
        String model = body.hasNonNull("model") ? body.get("model").asText() : modelName;
        LoraAdapter adapter = adapters.get(model);
        if (!modelName.equals(model) && adapter == null) {
            throw ApiException.unknownModel(model);
        }
        if (adapter == null) {
            adapter = scales.forRequest(body.get("lora"));
        } else if (body.hasNonNull("lora")) {
            throw ApiException.badRequest("lora sets the scales of the adapters loaded with --lora; give it with the base model,"
                    + " not with the adapter '" + model + "'", "lora");
        }
        ToolCalls tools = chat ? ToolCalls.of(body, prompts.toolStyle()) : null;
        PromptBuilder.ChatPrompt chatPrompt = chat ? prompts.chat(body, tools) : null;
        List<int[]> all = chat ? List.of(chatPrompt.tokens()) : prompts.completions(body);
        for (int[] prompt : all) {
            if (prompt.length == 0) {
                throw ApiException.badRequest("the prompt is empty", chat ? "messages" : "prompt");
            }
            if (prompt.length >= scheduler.contextSize()) {
                throw new ApiException(400, "invalid_request_error", "This model's maximum context length is "
                        + scheduler.contextSize() + " tokens, but the prompt has " + prompt.length + " tokens",
                        chat ? "messages" : "prompt", "context_length_exceeded");
            }
        }
        GenerationParams p = GenerationParams.parse(body, chat, prompts.tokenizer(), prompts.endOfGeneration(), tools, contextShift);
        int total = all.size() * p.n();
        ResponseFormat.Prompts scored = p.echo() || p.promptLogprobs() >= 0
                ? new ResponseFormat.Prompts(all, p.echo(), p.logprobs(), p.promptLogprobs()) : null;
        BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        List<RequestHandle> handles = new ArrayList<>();
        long start = System.nanoTime();
        try {
            // Choice k answers prompt k / n with seed + k % n: a prompt's choices do not depend on its neighbours.
            // An echoed prompt is always scored: its text comes back when its scores do, before any answer.
            int promptScores = scored == null ? -1 : scored.scored();
            for (int k = 0; k < total; k++) {
                Request r = new Request(all.get(k / p.n()), p.sampling().withSeed(p.sampling().seed() + k % p.n()), p.maxTokens(),
                        p.stop(), p.logprobs(), p.format(), p.stopTokens(), p.minTokens(), promptScores, adapter, p.sampledProbs(), p.lines(),
                        p.shift());
                handles.add(scheduler.submit(r, listener(k, events, metrics, scored != null, p.includeStop())));
            }
        } catch (QueueFullException e) {
            handles.forEach(RequestHandle::cancel);
            metrics.rejected();
            throw new ApiException(429, "rate_limit_exceeded", e.getMessage(), null, "queue_full");
        } catch (TernException e) {
            handles.forEach(RequestHandle::cancel);
            if (scheduler.isShutdown()) {
                throw new ApiException(503, "server_error", "the server is shutting down", null, "unavailable");
            }
            throw new ApiException(400, "invalid_request_error", e.getMessage(), null, null);
        }
        // A constrained answer (JSON, or calls in the generic form) is all answer: it has no room to think;
        // calls constrained only after their tag leave it.
        boolean reasoning = chat && prompts.reasoning() && (p.format().isText() || p.format().grammar() instanceof TriggeredGrammar);
        ResponseFormat.Response response = format.start(model, chat, "chatcmpl-" + UUID.randomUUID(), total, p.n(), p.logprobs() >= 0,
                tools, reasoning, reasoning && chatPrompt.opensThinking(), scored);
        if (dialect.needsLlamaCppProbabilities()) {
            response.withLlamaCppProbabilities(p.sampledProbs());
        }
        if (p.returnTokenIds()) {
            response.withTokenIds(all);
        }
        Choices choices = new Choices(total, start, metrics);
        if (p.stream()) {
            stream(ctx, response, events, handles, choices, p.includeUsage() || dialect.needsUsage(), dialect);
        } else {
            respond(ctx, response, events, handles, choices, dialect);
        }
    }

    /**
     * Feeds the handler's queue; counts the finish here, as the handler may be gone (client
     * disconnected). {@code scored}: the prompt's scores are wanted, to echo or list them;
     * {@code includeStop}: the stop string that ended a choice comes as its last text (vLLM's
     * {@code include_stop_str_in_output}).
     */
    private static RequestListener listener(int index, BlockingQueue<Event> events, ServerMetrics metrics, boolean scored,
                                            boolean includeStop) {
        return new RequestListener() {
            @Override
            public void onOutput(RequestOutput output) {
                events.add(new Event(index, output, null, null, System.nanoTime()));
            }

            @Override
            public void onPromptLogprobs(List<TokenLogprob> logprobs) {
                if (scored) {
                    events.add(new Event(index, null, null, logprobs, System.nanoTime()));
                }
            }

            @Override
            public void onFinish(RequestResult result) {
                if (includeStop && result.stopString() != null) {
                    events.add(new Event(index, new RequestOutput(result.stopString(), new int[0], List.of()), null, null, System.nanoTime()));
                }
                metrics.finished(result);
                events.add(new Event(index, null, result, null, System.nanoTime()));
            }
        };
    }

    private void respond(Context ctx, ResponseFormat.Response response, BlockingQueue<Event> events,
                         List<RequestHandle> handles, Choices choices, Dialect dialect) {
        ClientProbe probe = ClientProbe.of(ctx);
        RequestResult error = null;
        while (!choices.allDone()) {
            if (probe.clientGone(ctx)) {
                handles.forEach(RequestHandle::cancel);
                metrics.disconnected();
                return;
            }
            Event e = poll(events, ClientProbe.INTERVAL_MILLIS);
            if (e == null) {
                continue;
            }
            if (e.prompt != null) {
                response.prompt(e.index, e.prompt);
            } else if (e.output != null) {
                choices.output(e.index, e.output, e.nanos);
                response.append(e.index, e.output);
            } else {
                choices.finish(e.index, e.result, e.nanos);
                if (e.result.reason() == FinishReason.ERROR) {
                    error = e.result;
                }
            }
        }
        if (error != null) {
            throw new ApiException(500, "server_error", error.error(), null, null);
        }
        // Written and closed here rather than by Javalin after the handler, so that a shutdown
        // waiting for handlers (TernServer.close) knows the answer has been sent.
        ObjectNode body = response.body(choices.results());
        choices.putTimings(body);
        dialect.finished(choices.results());
        byte[] bytes = Json.write(dialect.whole(body)).getBytes(StandardCharsets.UTF_8);
        ctx.status(200);
        ctx.res().setContentType("application/json");
        ctx.res().setContentLength(bytes.length);
        try (OutputStream out = ctx.res().getOutputStream()) {
            out.write(bytes);
        } catch (IOException e) {
            metrics.disconnected();
        }
    }

    private void stream(Context ctx, ResponseFormat.Response response, BlockingQueue<Event> events,
                        List<RequestHandle> handles, Choices choices, boolean includeUsage, Dialect dialect) {
        ctx.status(200);
        ctx.res().setContentType(dialect.streamContentType());
        ctx.res().setCharacterEncoding("UTF-8");
        ctx.res().setHeader("Cache-Control", "no-cache");
        try {
            OutputStream out = ctx.res().getOutputStream();
            for (ObjectNode first : response.openingChunks()) {
                dialect.chunk(out, first);
            }
            while (!choices.allDone()) {
                Event e = poll(events, Long.MAX_VALUE);
                if (e.prompt != null) {
                    dialect.chunk(out, response.prompt(e.index, e.prompt));
                } else if (e.output != null) {
                    choices.output(e.index, e.output, e.nanos);
                    ObjectNode chunk = response.chunk(e.index, e.output);
                    if (chunk != null) {
                        dialect.chunk(out, chunk);
                    }
                } else {
                    choices.finish(e.index, e.result, e.nanos);
                    if (e.result.reason() == FinishReason.ERROR) {
                        ApiException err = new ApiException(500, "server_error", e.result.error(), null, null);
                        dialect.chunk(out, Json.error(err));
                    } else {
                        for (ObjectNode last : response.finalChunks(e.index, e.result)) {
                            dialect.chunk(out, last);
                        }
                    }
                }
            }
            if (includeUsage) {
                ObjectNode usage = response.usageChunk(choices.results());
                choices.putTimings(usage);
                dialect.chunk(out, usage);
            }
            dialect.finished(choices.results());
            dialect.end(out);
            out.close();
        } catch (IOException e) {
            // The client went away: stop its generations now so their KV blocks are freed.
            handles.forEach(RequestHandle::cancel);
            metrics.disconnected();
        }
    }

    /** The next event, or null after {@code millis} without one. */
    private static Event poll(BlockingQueue<Event> events, long millis) {
        try {
            return events.poll(millis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiException(503, "server_error", "the server is shutting down", null, null);
        }
    }

    /** Progress of the choices of one response, and the latency measurements they feed. */
    private static final class Choices {
        private final RequestResult[] results;
        private final long[] first;
        private final long[] last;
        private final long[] end;
        private final long start;
        private final ServerMetrics metrics;
        private int done;

        Choices(int n, long start, ServerMetrics metrics) {
            this.results = new RequestResult[n];
            this.first = new long[n];
            this.last = new long[n];
            this.end = new long[n];
            this.start = start;
            this.metrics = metrics;
        }

        void output(int i, RequestOutput o, long nanos) {
            if (o.tokens().length == 0) {
                return;
            }
            if (last[i] == 0) {
                metrics.firstToken(nanos - start);
                first[i] = nanos;
            } else {
                metrics.interToken((nanos - last[i]) / o.tokens().length, o.tokens().length);
            }
            last[i] = nanos;
        }

        void finish(int i, RequestResult r, long nanos) {
            results[i] = r;
            end[i] = nanos;
            done++;
        }

        /**
         * llama-server's {@code timings} of a one-choice answer: the prompt's computed tokens and the time to the
         * first token (queueing included), the generated tokens and the time after the first.
         */
        void putTimings(ObjectNode root) {
            if (results.length != 1 || results[0] == null) {
                return;
            }
            RequestResult r = results[0];
            long firstAt = first[0] == 0 ? end[0] : first[0];
            int promptN = r.promptTokens() - r.cachedTokens(), predictedN = r.completionTokens();
            double promptMs = (firstAt - start) / 1e6, predictedMs = (end[0] - firstAt) / 1e6;
            root.putObject("timings").put("cache_n", r.cachedTokens())
                    .put("prompt_n", promptN).put("prompt_ms", promptMs)
                    .put("prompt_per_token_ms", promptN == 0 ? 0 : promptMs / promptN)
                    .put("prompt_per_second", promptMs == 0 ? 0 : 1e3 * promptN / promptMs)
                    .put("predicted_n", predictedN).put("predicted_ms", predictedMs)
                    .put("predicted_per_token_ms", predictedN == 0 ? 0 : predictedMs / predictedN)
                    .put("predicted_per_second", predictedMs == 0 ? 0 : 1e3 * predictedN / predictedMs);
        }

        boolean allDone() {
            return done == results.length;
        }

        List<RequestResult> results() {
            return List.of(results);
        }
    }
}
