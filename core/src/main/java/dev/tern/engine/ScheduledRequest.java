package dev.tern.engine;

import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;
import dev.tern.kv.PrefixCache;
import dev.tern.sampling.Sampler;
import dev.tern.spec.AdaptiveDraftLength;
import dev.tern.spec.Proposal;
import dev.tern.spec.Proposer;
import dev.tern.tokenizer.StreamDecoder;
import dev.tern.tokenizer.Tokenizer;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The scheduler's state of one request: all its tokens (prompt, then generated), how many of
 * them are in its KV cache, its sampler and its text stream. Touched only by the scheduler thread
 * (except {@link #cancelled}).
 */
final class ScheduledRequest implements RequestHandle {
    final long order;
    final Request request;
    final RequestListener listener;
    final Sampler sampler;
    final StreamDecoder decoder;
    final StopText text;
    final LineWatch lines;
    private final Scheduler scheduler;
    volatile boolean cancelled;

    int[] tokens;
    int length;
    int generated;
    /** Times its full context made room ({@link ContextShift}). */
    int shifts;
    /** Its place among the running sequences while it runs, else -1. */
    int slot = -1;
    /** Prompt tokens that came from the prefix cache at the first admission. */
    int cachedTokens = -1;
    BlockTable table;
    /** Chained hashes of the full blocks known so far; the first {@link #registered} are in the prefix cache. */
    final List<ByteBuffer> hashes = new ArrayList<>();
    int registered;
    /** Output not released yet (held back by stop strings). */
    final List<Integer> pendingTokens = new ArrayList<>();
    final List<TokenLogprob> pendingLogprobs = new ArrayList<>();
    /** The prompt's log-probabilities so far, while they are asked for and not delivered; else null. */
    List<TokenLogprob> promptLogprobs;
    /** This step's rows of logits: the first, and how many of them score prompt tokens (they come first). */
    int firstRow;
    int scoreRows;
    /** Speculation state, made when the request first decodes; the proposal is this step's, or null. */
    Proposer proposer;
    AdaptiveDraftLength lengths;
    Proposal proposal;
    /** How many tokens this step lets it propose ({@link dev.tern.spec.DraftBudget}). */
    int draftBudget;
    private SplittableRandom rng;

    ScheduledRequest(long order, Request request, RequestListener listener, Sampler sampler, Tokenizer tokenizer,
                     Scheduler scheduler) {
        this.order = order;
        this.request = request;
        this.listener = listener;
        this.sampler = sampler;
        this.decoder = new StreamDecoder(tokenizer);
        this.text = new StopText(request.stop());
        this.lines = new LineWatch(request.lines());
        this.scheduler = scheduler;
        this.tokens = Arrays.copyOf(request.prompt(), request.prompt().length + 16);
        this.length = request.prompt().length;
        this.promptLogprobs = request.promptLogprobs() >= 0 ? new ArrayList<>() : null;
    }

    @Override
    public void cancel() {
        cancelled = true;
        scheduler.wake();
    }

    /** The draws of the speculative sampling rule: their own stream, seeded as the sampler is. */
    SplittableRandom rng() {
        if (rng == null) {
            rng = new SplittableRandom(request.sampling().seed());
        }
        return rng;
    }

    int computed() {
        return table == null ? 0 : table.length();
    }

    void append(int token) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, 2 * length);
        }
        tokens[length++] = token;
    }

    /** Hashes of the full blocks among the first {@code upTo} tokens. */
    List<ByteBuffer> blockHashes(int upTo) {
        int full = upTo / BlockPool.BLOCK_SIZE;
        PrefixCache.chain(hashes, request.adapter() != null ? request.adapter().cacheSalt() : null, tokens, full);
        return hashes.subList(0, full);
    }
}
