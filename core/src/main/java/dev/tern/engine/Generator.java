package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.sampling.Sampler;
import dev.tern.tokenizer.StreamDecoder;
import dev.tern.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * The autoregressive loop for one sequence: feed the prompt as one batch, then sample a token,
 * stream its text, feed it back, until an end-of-generation token, the token limit or a full
 * context (unless a {@link ContextShift} makes room). Text is streamed in whole UTF-8 characters.
 */
public final class Generator {

    /** Receives each generated token with its text (possibly empty while a character is incomplete). */
    @FunctionalInterface
    public interface Listener {
        /** Returns false to stop generating. */
        boolean onToken(int token, String text);
    }

    private Generator() {
    }

    /**
     * Throws a one-line TernException unless {@code prompt} has tokens and fits the session's
     * free positions: what every generation loop checks before feeding it.
     */
    public static void checkPrompt(Session session, int[] prompt) {
        if (prompt.length == 0) {
            throw new TernException("empty prompt: nothing to generate from (add BOS or some text)");
        }
        int room = session.contextSize() - session.position();
        if (prompt.length > room) {
            throw new TernException("prompt of " + prompt.length + " tokens does not fit the context ("
                    + room + " of " + session.contextSize() + " positions free)");
        }
    }

    /**
     * Generates up to {@code maxTokens} tokens after {@code prompt}, continuing the session from
     * its current position (a chat keeps its earlier turns in the cache). maxTokens &lt; 0 means
     * until the context is full.
     */
    public static GenerationResult generate(Session session, Tokenizer tokenizer, int[] prompt, Sampler sampler,
                                            int maxTokens, Listener listener) {
        return generate(session, tokenizer, prompt, sampler, maxTokens, List.of(), listener);
    }

    /**
     * As above, ending at the first of the {@code stop} strings: the text and the listener stop
     * before it (text that may begin one is held back until it cannot), as the server's requests do.
     */
    public static GenerationResult generate(Session session, Tokenizer tokenizer, int[] prompt, Sampler sampler,
                                            int maxTokens, List<String> stop, Listener listener) {
        return generate(session, tokenizer, prompt, sampler, maxTokens, stop, ContextShift.NONE, listener);
    }

    /**
     * As above; a full context makes room as {@code shift} says and the generation goes on (the
     * prompt counted from the session's start), or ends when it has none.
     */
    public static GenerationResult generate(Session session, Tokenizer tokenizer, int[] prompt, Sampler sampler,
                                            int maxTokens, List<String> stop, ContextShift shift, Listener listener) {
        checkPrompt(session, prompt);
        StopText stops = new StopText(stop);
        for (int t : prompt) {
            sampler.accept(t);
        }
        long t0 = System.nanoTime();
        float[] logits = session.forward(prompt);
        long tPrompt = System.nanoTime();
        int promptEnd = session.position();

        StreamDecoder decoder = new StreamDecoder(tokenizer);
        StringBuilder text = new StringBuilder();
        int[] out = new int[Math.max(16, maxTokens < 0 ? 256 : Math.min(maxTokens, 1 << 16))];
        int n = 0, shifts = 0;
        long tFirst = 0;
        GenerationResult.StopReason reason;
        while (true) {
            if (maxTokens >= 0 && n >= maxTokens) {
                reason = GenerationResult.StopReason.MAX_TOKENS;
                break;
            }
            int token = sampler.sample(logits);
            if (n == 0) {
                tFirst = System.nanoTime();
            }
            if (tokenizer.isEndOfGeneration(token)) {
                reason = GenerationResult.StopReason.END_OF_GENERATION;
                break;
            }
            if (n == out.length) {
                out = Arrays.copyOf(out, 2 * n);
            }
            out[n++] = token;
            String piece = stops.append(decoder.append(token));
            text.append(piece);
            if (!listener.onToken(token, piece)) {
                reason = GenerationResult.StopReason.CANCELLED;
                break;
            }
            if (stops.stopped()) {
                reason = GenerationResult.StopReason.STOP_STRING;
                break;
            }
            if (session.position() >= session.contextSize()) {
                if (session.shift(shift, promptEnd, tokenizer.bos()).count() == 0) {
                    reason = GenerationResult.StopReason.CONTEXT_FULL;
                    break;
                }
                shifts++;
            }
            if (maxTokens >= 0 && n >= maxTokens) {
                reason = GenerationResult.StopReason.MAX_TOKENS;
                break;
            }
            logits = session.forward(token);
        }
        String tail = stops.finish(decoder);
        if (!tail.isEmpty()) {
            text.append(tail);
            listener.onToken(-1, tail);
        }
        if (stops.stopped()) {
            reason = GenerationResult.StopReason.STOP_STRING;
        }
        long tEnd = System.nanoTime();
        Timings timings = new Timings(prompt.length, (tPrompt - t0) / 1e6, n, (tEnd - tPrompt) / 1e6,
                ((n == 0 ? tEnd : tFirst) - t0) / 1e6);
        return new GenerationResult(prompt, Arrays.copyOf(out, n), text.toString(), reason, timings, shifts);
    }
}
