package dev.tern.spec;

import dev.tern.engine.ContextShift;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.GenerationResult.StopReason;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.engine.StopText;
import dev.tern.engine.Timings;
import dev.tern.sampling.Sampler;
import dev.tern.tokenizer.StreamDecoder;
import dev.tern.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * {@link Generator}'s loop with speculation: each round a {@link Proposer} guesses up to k
 * tokens, the target scores the pending token and all guesses in one forward pass, the longest
 * agreeing prefix is kept plus one token of the target's own, and the target cache is cut back
 * to what was kept. Greedy output is the target's argmax at every step, as without speculation;
 * sampled output follows {@link SpeculativeSampling}, so it has the target's distribution (but
 * not the same tokens as a plain run with the same seed). Stops, streams and times like
 * {@link Generator}, and leaves the session as it would.
 */
public final class SpeculativeGenerator {
    private final Session target;
    private final Tokenizer tokenizer;
    private final Sampler sampler;
    private final Proposer proposer;
    private final AdaptiveDraftLength lengths;
    private final ContextShift shift;
    private final boolean greedy;
    private final SplittableRandom rng;
    private final int vocab;

    private int[] history = new int[256];
    private int historyLength;
    private final StreamDecoder decoder;
    private final StopText stops;
    private final StringBuilder text = new StringBuilder();
    private int[] out = new int[64];
    private int n;
    private StopReason reason;
    private int shifts;
    /** The prompt's end, counted from the session's start: what a shift keeping the prompt keeps. */
    private int promptEnd;

    private long drafted, accepted, passTokens;
    private int targetPasses, proposalPasses;
    private long proposeNanos, verifyNanos;
    private int[] passesBySize = new int[2];
    private long[] nanosBySize = new long[2];

    private SpeculativeGenerator(Session target, Tokenizer tokenizer, Sampler sampler, Proposer proposer,
                                 AdaptiveDraftLength lengths, List<String> stop, ContextShift shift) {
        this.target = target;
        this.shift = shift;
        this.tokenizer = tokenizer;
        this.sampler = sampler;
        this.proposer = proposer;
        this.lengths = lengths;
        this.greedy = sampler.config().temperature() <= 0f;
        this.rng = new SplittableRandom(sampler.config().seed());
        this.vocab = tokenizer.vocabSize();
        this.decoder = new StreamDecoder(tokenizer);
        this.stops = new StopText(stop);
    }

    /**
     * Generates up to {@code maxTokens} tokens after {@code prompt} (all of them until the context
     * is full when negative), continuing the target session from its position.
     *
     * @param lengths how many tokens to ask the proposer for each round
     */
    public static SpeculativeResult generate(Session target, Tokenizer tokenizer, int[] prompt, Sampler sampler,
                                             Proposer proposer, AdaptiveDraftLength lengths, int maxTokens,
                                             Generator.Listener listener) {
        return generate(target, tokenizer, prompt, sampler, proposer, lengths, maxTokens, List.of(), listener);
    }

    /** As above, ending at the first of the {@code stop} strings as {@link Generator} does. */
    public static SpeculativeResult generate(Session target, Tokenizer tokenizer, int[] prompt, Sampler sampler,
                                             Proposer proposer, AdaptiveDraftLength lengths, int maxTokens,
                                             List<String> stop, Generator.Listener listener) {
        return new SpeculativeGenerator(target, tokenizer, sampler, proposer, lengths, stop, ContextShift.NONE)
                .run(prompt, maxTokens, listener);
    }

    /**
     * As above, after {@code context}: tokens already in the target's cache (a restored prompt cache), which the
     * proposer sees as the start of the text and the sampler has accepted, as {@link Generator} leaves it to the caller.
     */
    public static SpeculativeResult generate(Session target, Tokenizer tokenizer, int[] context, int[] prompt, Sampler sampler,
                                             Proposer proposer, AdaptiveDraftLength lengths, int maxTokens,
                                             List<String> stop, Generator.Listener listener) {
        return generate(target, tokenizer, context, prompt, sampler, proposer, lengths, maxTokens, stop, ContextShift.NONE, listener);
    }

    /** As above; a full context makes room as {@code shift} says, as in {@link Generator}. */
    public static SpeculativeResult generate(Session target, Tokenizer tokenizer, int[] context, int[] prompt, Sampler sampler,
                                             Proposer proposer, AdaptiveDraftLength lengths, int maxTokens,
                                             List<String> stop, ContextShift shift, Generator.Listener listener) {
        if (context.length != target.position()) {
            throw new IllegalArgumentException("context of " + context.length + " tokens, but the target holds " + target.position());
        }
        SpeculativeGenerator g = new SpeculativeGenerator(target, tokenizer, sampler, proposer, lengths, stop, shift);
        for (int t : context) {
            g.push(t);
        }
        return g.run(prompt, maxTokens, listener);
    }

    private SpeculativeResult run(int[] prompt, int maxTokens, Generator.Listener listener) {
        Generator.checkPrompt(target, prompt);
        for (int t : prompt) {
            sampler.accept(t);
            push(t);
        }
        long t0 = System.nanoTime();
        float[] logits = target.forward(prompt);
        long tPrompt = System.nanoTime();
        promptEnd = target.position();
        long tFirst = 0;
        if (maxTokens == 0) {
            reason = StopReason.MAX_TOKENS;
        } else {
            int first = decide(logits, -1, null);
            tFirst = System.nanoTime();
            emit(first, target.position(), maxTokens, listener);
        }
        while (reason == null) {
            round(maxTokens, listener);
        }
        String tail = stops.finish(decoder);
        if (!tail.isEmpty()) {
            text.append(tail);
            listener.onToken(-1, tail);
        }
        if (stops.stopped()) {
            reason = StopReason.STOP_STRING;
        }
        long tEnd = System.nanoTime();
        Timings timings = new Timings(prompt.length, (tPrompt - t0) / 1e6, n, (tEnd - tPrompt) / 1e6,
                ((n == 0 ? tEnd : tFirst) - t0) / 1e6);
        GenerationResult result = new GenerationResult(prompt, Arrays.copyOf(out, n), text.toString(), reason, timings, shifts);
        double[] msBySize = new double[nanosBySize.length];
        for (int i = 0; i < msBySize.length; i++) {
            msBySize[i] = nanosBySize[i] / 1e6;
        }
        SpeculativeStats stats = new SpeculativeStats(drafted, accepted, targetPasses, proposalPasses, passTokens,
                proposeNanos / 1e6, verifyNanos / 1e6, passesBySize.clone(), msBySize);
        return new SpeculativeResult(result, stats);
    }

    /** One target pass: the pending token (last of the history, not yet in the cache) and the proposal. */
    private void round(int maxTokens, Generator.Listener listener) {
        if (target.position() >= target.contextSize()) {
            // The pending token has no place: a shift drops the same positions from the history as from the cache.
            ContextShift.Gap gap = target.shift(shift, promptEnd, tokenizer.bos());
            if (gap.count() == 0) {
                reason = StopReason.CONTEXT_FULL;
                return;
            }
            historyLength = gap.removeFrom(history, historyLength);
            shifts++;
        }
        int pos = target.position();
        int k = lengths.next();
        // The pass feeds k+1 tokens and yields up to k+1: stay inside the context and the token budget.
        k = Math.min(k, target.contextSize() - pos - 1);
        if (maxTokens >= 0) {
            k = Math.min(k, maxTokens - n - 1);
        }
        long tp = System.nanoTime();
        Proposal proposal = k > 0 ? proposer.propose(history, historyLength, k) : Proposal.NONE;
        long tv = System.nanoTime();
        int m = Math.min(k, proposal.size());
        int[] batch = new int[m + 1];
        batch[0] = history[historyLength - 1];
        System.arraycopy(proposal.tokens(), 0, batch, 1, m);
        float[] rows = target.forwardAll(batch);
        long te = System.nanoTime();
        record(m + 1, tp, tv, te);
        lengths.observeCost(m + 1, te - tv, m, tv - tp);

        int kept = 0;
        int i = 0;
        for (; i <= m; i++) {
            int d = i < m ? proposal.tokens()[i] : -1;
            int x = decide(Arrays.copyOfRange(rows, i * vocab, (i + 1) * vocab), d, i < m ? proposal.distribution(i) : null);
            boolean match = i < m && x == d;
            if (match) {
                kept++;
            }
            emit(x, pos + i + 1, maxTokens, listener);
            if (reason != null || !match) {
                break;
            }
        }
        // The cache keeps the pending token and the accepted proposals; the token just decided is the next pending one.
        target.truncate(pos + i + 1);
        drafted += m;
        accepted += kept;
        if (m > 0) {
            proposalPasses++;
            lengths.update(m, kept);
        }
    }

    /** The target's token at one position: greedy as Generator does, else by the speculative sampling rule. */
    private int decide(float[] row, int draft, float[] q) {
        if (greedy) {
            return sampler.sample(row);
        }
        float[] p = sampler.probabilities(row);
        int x = draft < 0 ? SpeculativeSampling.draw(p, rng) : SpeculativeSampling.verify(p, q, draft, rng);
        sampler.chosen(x);
        return x;
    }

    /**
     * Hands a decided token to the output with Generator's stop rules; {@code position} is the
     * number of cache positions its logits saw.
     */
    private void emit(int token, int position, int maxTokens, Generator.Listener listener) {
        if (tokenizer.isEndOfGeneration(token)) {
            reason = StopReason.END_OF_GENERATION;
            return;
        }
        if (n == out.length) {
            out = Arrays.copyOf(out, 2 * n);
        }
        out[n++] = token;
        passTokens += targetPasses > 0 ? 1 : 0;
        push(token);
        String piece = stops.append(decoder.append(token));
        text.append(piece);
        if (!listener.onToken(token, piece)) {
            reason = StopReason.CANCELLED;
        } else if (stops.stopped()) {
            reason = StopReason.STOP_STRING;
        } else if (position >= target.contextSize() && !shift.enabled()) {
            reason = StopReason.CONTEXT_FULL;
        } else if (maxTokens >= 0 && n >= maxTokens) {
            reason = StopReason.MAX_TOKENS;
        }
    }

    private void push(int token) {
        if (historyLength == history.length) {
            history = Arrays.copyOf(history, 2 * historyLength);
        }
        history[historyLength++] = token;
    }

    private void record(int size, long tp, long tv, long te) {
        targetPasses++;
        proposeNanos += tv - tp;
        verifyNanos += te - tv;
        if (size >= passesBySize.length) {
            passesBySize = Arrays.copyOf(passesBySize, size + 1);
            nanosBySize = Arrays.copyOf(nanosBySize, size + 1);
        }
        passesBySize[size]++;
        nanosBySize[size] += te - tv;
    }
}
